#include "data/data_config_parse.h"

#include <cmath>

namespace crunet::data {
namespace {

using config::YamlReader;

// The keys each map of the `data` section accepts. The parser checks against these lists and
// config_keys() reports them, so the documentation test (tests/train/config_keys_test.cpp) sees
// exactly what the parser accepts.
const std::vector<std::string> kDataKeys = {
    "format", "train_format", "val_format", "root", "train", "val", "class_map", "classes", "channels", "cifar100_labels", "batch_size",
    "eval_batch_size", "workers", "prefetch_batches", "train_limit", "val_limit",
    "max_bad_fraction", "pin_memory", "normalize", "augment", "eval"};
const std::vector<std::string> kFormats = {"image_folder", "list",    "path_label", "recordio",
                                           "idx",          "cifar10", "cifar100"};
const std::vector<std::string> kNormalizeKeys = {"mean", "scale"};
const std::vector<std::string> kAugmentKeys = {"crop", "area", "aspect", "attempts", "pad",
                                               "fill", "flip", "hsl", "size", "interpolation"};
const std::vector<std::string> kHslKeys = {"hue", "saturation", "lightness"};
const std::vector<std::string> kEvalKeys = {"resize", "size", "interpolation"};

// One of `choices`, or a UserError listing them (with the closest as a suggestion).
std::string choice(const YamlReader& reader, const std::string& key, const std::string& fallback,
                   const std::vector<std::string>& choices) {
  const std::string value = reader.text(key, fallback);
  for (const std::string& c : choices) {
    if (value == c) return value;
  }
  reader.report(key, "unknown value '" + value + "' (one of: " + config::join_words(choices) +
                         ")" + config::did_you_mean(value, choices));
  return fallback;
}

std::int64_t integer_in(const YamlReader& reader, const std::string& key, std::int64_t fallback,
                        std::int64_t low, std::int64_t high) {
  const std::int64_t value = reader.integer(key, fallback);
  if (value < low || value > high) {
    reader.report(key, "must be an integer in [" + std::to_string(low) + ", " +
                           std::to_string(high) + "], got " + std::to_string(value));
    return fallback;
  }
  return value;
}

double number_in(const YamlReader& reader, const std::string& key, double fallback, double low,
                 double high) {
  const double value = reader.number(key, fallback);
  if (!(value >= low && value <= high)) {
    reader.report(key, "must be a number in [" + std::to_string(low) + ", " +
                           std::to_string(high) + "], got " + std::to_string(value));
    return fallback;
  }
  return value;
}

// A number or a list of numbers.
std::vector<double> numbers(const YamlReader& reader, const std::string& key,
                            const std::vector<double>& fallback) {
  if (!reader.has(key)) return fallback;
  const YAML::Node node = reader.node(key);
  std::vector<double> values;
  try {
    if (node.IsScalar()) {
      values.push_back(node.as<double>());
    } else if (node.IsSequence() && node.size() > 0) {
      for (const YAML::Node& item : node) {
        if (!item.IsScalar()) throw YAML::Exception(item.Mark(), "not a scalar");
        values.push_back(item.as<double>());
      }
    } else {
      throw YAML::Exception(node.Mark(), "not a number or list");
    }
  } catch (const YAML::Exception&) {
    reader.report(key, "must be a number or a list of numbers, got '" + YAML::Dump(node) + "'");
    return fallback;
  }
  for (double v : values) {
    if (!std::isfinite(v)) {
      reader.report(key, "must be finite numbers");
      return fallback;
    }
  }
  return values;
}

// [low, high] with `floor` < low <= high <= `ceiling`.
std::pair<double, double> range(const YamlReader& reader, const std::string& key,
                                std::pair<double, double> fallback, double floor, double ceiling) {
  if (!reader.has(key)) return fallback;
  const std::vector<double> values = numbers(reader, key, {});
  if (values.size() != 2 ||
      !(values[0] > floor && values[0] <= values[1] && values[1] <= ceiling)) {
    reader.report(key, "must be a list [min, max] with " + std::to_string(floor) +
                           " < min <= max <= " + std::to_string(ceiling));
    return fallback;
  }
  return {values[0], values[1]};
}

// A string or a list of strings.
std::vector<std::string> strings(const YamlReader& reader, const std::string& key) {
  if (!reader.has(key)) return {};
  const YAML::Node node = reader.node(key);
  std::vector<std::string> values;
  if (node.IsScalar()) {
    values.push_back(node.as<std::string>());
  } else if (node.IsSequence() && node.size() > 0) {
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) {
        reader.report(key, "must be a path or a list of paths");
        return {};
      }
      values.push_back(item.as<std::string>());
    }
  } else {
    reader.report(key, "must be a path or a list of paths");
    return {};
  }
  for (const std::string& value : values) {
    if (value.empty()) {
      reader.report(key, "must not be empty");
      return {};
    }
  }
  return values;
}

bool is_boolean(const YamlReader& reader, const std::string& key) {
  if (!reader.has(key) || !reader.node(key).IsScalar()) return false;
  bool value = false;
  return YAML::convert<bool>::decode(reader.node(key), value);
}

Interpolation interpolation(const YamlReader& reader, Interpolation fallback) {
  const char* names[] = {"nearest", "linear", "area", "cubic"};
  const std::string name = choice(reader, "interpolation", names[static_cast<int>(fallback)],
                                  {"nearest", "linear", "area", "cubic"});
  for (int i = 0; i < 4; ++i) {
    if (name == names[i]) return static_cast<Interpolation>(i);
  }
  return fallback;
}

HslParams parse_hsl(const YamlReader& augment, const HslParams& fallback) {
  if (!augment.has("hsl")) return fallback;
  if (is_boolean(augment, "hsl")) {
    return augment.boolean("hsl", true) ? fallback : HslParams{0, 0, 0};
  }
  const YamlReader reader = augment.map("hsl");
  reader.check_keys(kHslKeys);
  HslParams hsl;
  hsl.hue = static_cast<int>(integer_in(reader, "hue", fallback.hue, 0, 180));
  hsl.saturation = static_cast<int>(integer_in(reader, "saturation", fallback.saturation, 0, 255));
  hsl.lightness = static_cast<int>(integer_in(reader, "lightness", fallback.lightness, 0, 255));
  return hsl;
}

TrainTransformParams parse_augment(const YamlReader& section) {
  TrainTransformParams params;
  if (!section.has("augment")) return params;
  const YamlReader reader = section.map("augment");
  reader.check_keys(kAugmentKeys);
  const std::string crop =
      choice(reader, "crop", "random_area", {"random_area", "pad_random", "none"});
  params.crop = crop == "random_area"  ? TrainCrop::RandomArea
                : crop == "pad_random" ? TrainCrop::PadRandom
                                       : TrainCrop::None;
  const auto area = range(reader, "area", {params.area.min_area, params.area.max_area}, 0.0, 1.0);
  params.area.min_area = area.first;
  params.area.max_area = area.second;
  const auto aspect =
      range(reader, "aspect", {params.area.min_aspect, params.area.max_aspect}, 0.0, 1e6);
  params.area.min_aspect = aspect.first;
  params.area.max_aspect = aspect.second;
  params.area.attempts =
      static_cast<int>(integer_in(reader, "attempts", params.area.attempts, 1, 1000));
  params.pad = integer_in(reader, "pad", params.pad, 0, 4096);
  params.fill = static_cast<std::uint8_t>(integer_in(reader, "fill", params.fill, 0, 255));
  if (is_boolean(reader, "flip")) {
    params.flip = reader.boolean("flip", true) ? 0.5 : 0.0;
  } else {
    params.flip = number_in(reader, "flip", params.flip, 0.0, 1.0);
  }
  params.hsl = parse_hsl(reader, params.hsl);
  params.size = integer_in(reader, "size", params.size, 1, 65536);
  params.interpolation = interpolation(reader, params.interpolation);
  return params;
}

EvalTransformParams parse_eval(const YamlReader& section) {
  EvalTransformParams params;
  if (!section.has("eval")) return params;
  const YamlReader reader = section.map("eval");
  reader.check_keys(kEvalKeys);
  params.resize = integer_in(reader, "resize", params.resize, 0, 65536);
  params.size = integer_in(reader, "size", params.size, 0, 65536);
  params.interpolation = interpolation(reader, params.interpolation);
  if (params.resize > 0 && params.size > params.resize) {
    reader.report("size", "the centre crop " + std::to_string(params.size) +
                            " is larger than the resized short side " +
                            std::to_string(params.resize) + " (eval.resize)");
  }
  return params;
}

Normalization parse_normalize(const YamlReader& section, std::int64_t channels) {
  Normalization normalization;
  // The default mean is the paper's RGB mean; for gray images its luma (0.299, 0.587, 0.114).
  if (channels == 1) normalization.mean = {118.0f};
  if (!section.has("normalize")) return normalization;
  const YamlReader reader = section.map("normalize");
  reader.check_keys(kNormalizeKeys);
  auto read = [&](const std::string& key, const std::vector<float>& fallback) {
    const std::vector<double> values = numbers(reader, key, {fallback.begin(), fallback.end()});
    if (values.size() != 1 && static_cast<std::int64_t>(values.size()) != channels) {
      reader.report(key, "needs 1 value or one per channel (" + std::to_string(channels) +
                             "), got " + std::to_string(values.size()));
      return fallback;
    }
    for (double v : values) {
      if (std::fabs(v) > 1e30) {  // beyond float: the conversion below would be undefined
        reader.report(key, "must be numbers of magnitude at most 1e30");
        return fallback;
      }
    }
    return std::vector<float>(values.begin(), values.end());
  };
  normalization.mean = read("mean", normalization.mean);
  normalization.scale = read("scale", normalization.scale);
  for (float s : normalization.scale) {
    if (s == 0.0f) reader.report("scale", "must not be 0");
  }
  return normalization;
}

}  // namespace

DataConfig parse_data_config(const YamlReader& section) {
  section.check_keys(kDataKeys);
  DataConfig config;
  config.format = choice(section, "format", config.format, kFormats);
  if (section.has("train_format")) {
    config.train_format = choice(section, "train_format", config.format, kFormats);
  }
  if (section.has("val_format")) {
    config.val_format = choice(section, "val_format", config.format, kFormats);
  }
  config.root = section.text("root");
  if (config.root.empty()) section.report("root", "must not be empty");
  config.origin = section.where("root");
  config.train = strings(section, "train");
  config.val = strings(section, "val");
  config.class_map = section.text("class_map", "");
  for (const char* key : {"train", "val"}) {
    const bool train = std::string(key) == "train";
    const std::string& format = split_format(config, train);
    const bool many = format == "cifar10" || format == "cifar100";
    const bool pair =
        format == "idx" || format == "list" || format == "path_label" || format == "recordio";
    const std::size_t most = many ? 1000 : pair ? 2 : 1;
    const auto& values = train ? config.train : config.val;
    if (values.size() > most) {
      section.report(key, "format " + format + " takes " +
                              (format == "idx"        ? std::string("a prefix or an [images, labels] pair")
                               : format == "recordio" ? std::string("a .rec file or a [rec, idx] pair")
                               : most == 2            ? std::string("a file or a [file, image folder] pair")
                                                      : std::string("one path")) +
                              ", not " + std::to_string(values.size()));
    }
  }
  config.classes = integer_in(section, "classes", 0, 0, 100000000);
  config.channels = section.integer("channels", split_format(config, true) == "idx" ? 1 : 3);
  if (config.channels != 1 && config.channels != 3) {
    section.report("channels", "must be 1 or 3");
    config.channels = 3;
  }
  config.cifar100_labels =
      choice(section, "cifar100_labels", config.cifar100_labels, {"fine", "coarse"});
  config.batch_size = integer_in(section, "batch_size", config.batch_size, 1, 1 << 20);
  config.eval_batch_size =
      integer_in(section, "eval_batch_size", config.eval_batch_size, 0, 1 << 20);
  config.workers = static_cast<int>(integer_in(section, "workers", config.workers, 0, 256));
  config.prefetch_batches =
      static_cast<int>(integer_in(section, "prefetch_batches", config.prefetch_batches, 1, 1024));
  config.train_limit = integer_in(section, "train_limit", 0, 0, INT64_MAX);
  config.val_limit = integer_in(section, "val_limit", 0, 0, INT64_MAX);
  config.max_bad_fraction =
      number_in(section, "max_bad_fraction", config.max_bad_fraction, 0.0, 1.0);
  config.pin_memory = section.boolean("pin_memory", config.pin_memory);
  config.normalize = parse_normalize(section, config.channels);
  config.augment = parse_augment(section);
  config.eval = parse_eval(section);
  return config;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  auto add = [&keys](const std::string& prefix, const std::vector<std::string>& names) {
    for (const std::string& name : names) keys.push_back(prefix + name);
  };
  add("", kDataKeys);
  add("normalize.", kNormalizeKeys);
  add("augment.", kAugmentKeys);
  add("augment.hsl.", kHslKeys);
  add("eval.", kEvalKeys);
  return keys;
}

DataConfig load_data_config(const std::string& path) {
  const YAML::Node document = config::load_yaml_file(path);
  const auto problems = std::make_shared<config::Problems>();
  const YamlReader top(document, path, "", problems);
  DataConfig config;
  problems->guard([&] { config = parse_data_config(top.map("data")); });
  problems->raise(path);
  return config;
}

}  // namespace crunet::data
