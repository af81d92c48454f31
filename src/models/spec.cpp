#include "crunet/models/spec.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "crunet/core/error.h"
#include "spec_parse.h"
#include "unit_registry.h"
#include "config/yaml_reader.h"

namespace crunet::models {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> unit_type_names() {
  std::vector<std::string> names;
  for (const auto& entry : unit_types()) names.push_back(entry.first);
  return names;
}

StemSpec parse_stem(const YamlReader& top) {
  StemSpec stem;
  if (!top.has("stem")) return stem;
  const YamlReader reader = top.map("stem");
  reader.check_keys({"type", "width", "stride"});
  stem.type = reader.text("type", stem.type);
  if (stem.type != "imagenet" && stem.type != "small") {
    reader.report("type", "unknown stem type '" + stem.type + "' (known: imagenet, small)");
  }
  stem.width = reader.integer("width", stem.width);
  if (stem.width <= 0) reader.report("width", "must be a positive integer");
  stem.stride = reader.integer("stride", stem.stride);
  if (stem.stride != 1 && stem.stride != 2) reader.report("stride", "must be 1 or 2");
  if (stem.type == "imagenet" && reader.has("stride")) {
    reader.report("stride", "the imagenet stem's strides are fixed (conv 7x7/2, max-pool 3x3/2)");
  }
  return stem;
}

}  // namespace

ModelSpec parse_model_spec(const YamlReader& top) {
  top.check_keys({"name", "input", "classes", "stem", "stages"});
  ModelSpec spec;
  spec.source = top.file();
  spec.name = top.text("name");
  if (top.has("input")) {
    const YamlReader input = top.map("input");
    input.check_keys({"channels", "size"});
    spec.in_channels = input.integer("channels", spec.in_channels);
    spec.input_size = input.integer("size", spec.input_size);
    if (spec.in_channels <= 0) input.report("channels", "must be a positive integer");
    if (spec.input_size <= 0) input.report("size", "must be a positive integer");
  }
  spec.classes = top.integer("classes");
  if (spec.classes <= 0) top.report("classes", "must be a positive integer");
  spec.stem = parse_stem(top);
  const std::vector<YamlReader> stages = top.list_of_maps("stages");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const std::string unit = stages[i].text("unit");
    const auto& types = unit_types();
    auto it = types.find(unit);
    if (it == types.end()) {
      stages[i].report("unit", "unknown unit type '" + unit + "' (known: " +
                                   config::join_words(unit_type_names()) + ")" +
                                   config::did_you_mean(unit, unit_type_names()));
      continue;
    }
    spec.stages.push_back(it->second.parse(stages[i], i));
  }
  return spec;
}

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool looks_like_path(const std::string& text) {
  return text.find('/') != std::string::npos || ends_with(text, ".yaml") || ends_with(text, ".yml");
}

ModelSpec load_from_file(const std::string& path, int depth);

// A model named inside a training config: a zoo name, a path relative to the config, or a map.
ModelSpec resolve_model_key(const YamlReader& config, const std::string& path, int depth) {
  const YAML::Node model = config.node("model");
  if (model.IsMap()) return parse_model_spec(config.map("model"));
  const std::string name = config.text("model");
  if (looks_like_path(name)) {
    fs::path target = fs::path(name).is_absolute() ? fs::path(name)
                                                   : fs::path(path).parent_path() / name;
    std::error_code error;
    if (!fs::exists(target, error)) config.fail("model", "no model file '" + target.string() + "'");
    return load_from_file(target.string(), depth + 1);
  }
  try {
    return load_model_spec(name);
  } catch (const UserError& e) {
    config.fail("model", e.what());
  }
}

ModelSpec load_from_file(const std::string& path, int depth) {
  if (depth > 4) throw UserError(path + ": model references nest too deeply");
  const YAML::Node document = load_yaml_file(path);
  const auto problems = std::make_shared<config::Problems>();
  const YamlReader top(document, path, "", problems);
  if (top.has("model") && !top.has("stages")) return resolve_model_key(top, path, depth);
  ModelSpec spec = parse_model_spec(top);
  problems->raise(path);
  return spec;
}

}  // namespace

ModelSpec parse_model_spec(const std::string& yaml, const std::string& source) {
  const auto problems = std::make_shared<config::Problems>();
  ModelSpec spec = parse_model_spec(YamlReader(parse_yaml(yaml, source), source, "", problems));
  problems->raise(source);
  return spec;
}

// The zoo installed beside this library (<prefix>/lib/libcrunet.so ->
// <prefix>/share/crunet/configs/models), so that an installation made with
// `cmake --install --prefix P`, or moved, finds its own zoo; "" when the library's file is unknown.
static std::string zoo_beside_library() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&zoo_beside_library), &info) == 0 ||
      info.dli_fname == nullptr) {
    return "";
  }
  return (fs::path(info.dli_fname).parent_path() / CRUNET_ZOO_DIR_FROM_LIBDIR)
      .lexically_normal()
      .string();
}

std::vector<std::string> zoo_directories() {
  std::vector<std::string> folders;
  if (const char* custom = std::getenv("CRUNET_ZOO_DIR")) folders.emplace_back(custom);
  const std::string candidates[] = {zoo_beside_library(), CRUNET_INSTALL_ZOO_DIR,
                                    CRUNET_SOURCE_ZOO_DIR};
  for (const std::string& folder : candidates) {
    if (!folder.empty() && std::find(folders.begin(), folders.end(), folder) == folders.end()) {
      folders.push_back(folder);
    }
  }
  return folders;
}

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (const std::string& folder : zoo_directories()) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(folder, error)) {
      if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string model_spec_file(const std::string& name_or_path) {
  std::error_code error;  // a name too long for a path is simply not a file
  if (fs::is_regular_file(name_or_path, error)) return name_or_path;
  if (looks_like_path(name_or_path)) {
    if (fs::is_directory(name_or_path, error)) {  // "no such file" sent one looking for it
      throw UserError(name_or_path + ": is a folder, not a model spec or training config");
    }
    throw UserError(name_or_path + ": no such file");
  }
  for (const std::string& folder : zoo_directories()) {
    const fs::path candidate = fs::path(folder) / (name_or_path + ".yaml");
    if (fs::is_regular_file(candidate, error)) return candidate.string();
  }
  const std::vector<std::string> known = zoo_names();
  throw UserError("unknown model '" + name_or_path + "' (zoo: " + config::join_words(known) + ")" +
                  config::did_you_mean(name_or_path, known));
}

ModelSpec load_model_spec(const std::string& name_or_path) {
  return load_from_file(model_spec_file(name_or_path), 0);
}

}  // namespace crunet::models
