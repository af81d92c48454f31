// MXNet checkpoints onto crunet state dicts: the name map's rules become regular expressions over
// crunet's names; each match names the MXNet array that fills the tensor.
#include "crunet/models/mxnet_import.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "crunet/core/error.h"
#include "crunet/nn/layers.h"

namespace crunet::models {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kBound = {"stage", "unit", "share"};  // matched in crunet names
const std::vector<std::string> kDerived = {"block", "stride"};       // computed from {stage}

// The {placeholders} of a pattern, in order.
std::vector<std::string> placeholders(const std::string& pattern, const std::string& where) {
  std::vector<std::string> names;
  std::size_t at = 0;
  while ((at = pattern.find('{', at)) != std::string::npos) {
    const std::size_t end = pattern.find('}', at);
    if (end == std::string::npos) throw UserError(where + ": unclosed '{' in '" + pattern + "'");
    names.push_back(pattern.substr(at + 1, end - at - 1));
    at = end + 1;
  }
  return names;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// A crunet pattern as a regular expression: the text escaped, each placeholder a number group.
std::regex pattern_regex(const std::string& pattern) {
  std::string expression;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '{') {
      const std::size_t end = pattern.find('}', i);
      expression += "([0-9]+)";
      i = end;
    } else if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) {
      expression += '\\';
      expression += c;
    } else {
      expression += c;
    }
  }
  return std::regex(expression);
}

std::string substitute(const std::string& pattern, const std::map<std::string, std::int64_t>& values) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      const std::size_t end = pattern.find('}', i);
      out += std::to_string(values.at(pattern.substr(i + 1, end - i - 1)));
      i = end;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

// Every BatchNorm2d of the module by its state-dict prefix ("stem.bnac.bn").
void batch_norms_of(const nn::Module& module, const std::string& prefix,
                    std::map<std::string, const nn::BatchNorm2d*>& out) {
  for (const auto& [name, child] : module.named_children()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (const auto* bn = dynamic_cast<const nn::BatchNorm2d*>(child.get())) out[path] = bn;
    batch_norms_of(*child, path, out);
  }
}

struct Target {
  std::string mxnet;        // full name with prefix
  std::string bn_prefix;    // for BN tensors: the MXNet BN name (its gamma is bn_prefix + "_gamma")
  std::string field;        // weight | bias | running_mean | running_var | "" (a param)
  const MxnetNameRule* rule = nullptr;
};

// The first rule that matches crunet tensor `name`, and the MXNet array it names.
Target find_target(const std::string& name, const std::vector<MxnetNameRule>& rules,
                   const std::vector<std::regex>& expressions, const ModelSpec& spec) {
  const std::size_t dot = name.rfind('.');
  const std::string field = dot == std::string::npos ? name : name.substr(dot + 1);
  const std::string owner = dot == std::string::npos ? "" : name.substr(0, dot);
  const bool bn_field = field == "weight" || field == "bias" || field == "running_mean" ||
                        field == "running_var";
  Target target;
  for (std::size_t r = 0; r < rules.size(); ++r) {
    const MxnetNameRule& rule = rules[r];
    if (rule.kind == "bn" && !bn_field) continue;
    const std::string& subject = rule.kind == "bn" ? owner : name;
    std::smatch match;
    if (!std::regex_match(subject, match, expressions[r])) continue;
    std::map<std::string, std::int64_t> values;
    const std::vector<std::string> names = placeholders(rule.crunet, rule.source);
    for (std::size_t i = 0; i < names.size(); ++i) {
      try {
        values[names[i]] = std::stoll(match[i + 1].str());
      } catch (const std::out_of_range&) {
        values[names[i]] = -1;  // beyond any stage; the check below skips it
      }
    }
    if (values.count("stage")) {
      const std::int64_t stage = values["stage"];
      if (stage < 1 || stage > static_cast<std::int64_t>(spec.stages.size())) continue;
      const StageSpec& stage_spec = spec.stages[static_cast<std::size_t>(stage - 1)];
      if (!rule.unit.empty() && rule.unit != stage_spec.unit) continue;
      values["block"] = stage + 1;
      values["stride"] = stage_spec.stride;
    }
    const std::string mxnet = substitute(rule.mxnet, values);
    target.rule = &rule;
    if (rule.kind == "param") {
      target.mxnet = "arg:" + mxnet;
    } else {
      target.bn_prefix = mxnet;
      target.field = field;
      target.mxnet = field == "weight"         ? "arg:" + mxnet + "_gamma"
                     : field == "bias"         ? "arg:" + mxnet + "_beta"
                     : field == "running_mean" ? "aux:" + mxnet + "_moving_mean"
                                               : "aux:" + mxnet + "_moving_var";
    }
    return target;
  }
  return target;
}

std::vector<std::regex> rule_expressions(const std::vector<MxnetNameRule>& rules) {
  std::vector<std::regex> expressions;
  for (const MxnetNameRule& rule : rules) expressions.push_back(pattern_regex(rule.crunet));
  return expressions;
}

}  // namespace

std::vector<MxnetNameRule> parse_mxnet_name_map(const std::string& text, const std::string& source) {
  std::vector<MxnetNameRule> rules;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::size_t hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    if (words.empty()) continue;
    const std::string where = source + ":" + std::to_string(number);
    if (words.size() != 3) {
      throw UserError(where + ": expected 'param|bn[:res|:cru] CRUNET_NAME MXNET_NAME', got " +
                      std::to_string(words.size()) + " fields");
    }
    MxnetNameRule rule;
    rule.source = where;
    const std::size_t colon = words[0].find(':');
    rule.kind = words[0].substr(0, colon);
    if (colon != std::string::npos) rule.unit = words[0].substr(colon + 1);
    if (rule.kind != "param" && rule.kind != "bn") {
      throw UserError(where + ": unknown rule kind '" + rule.kind + "' (param or bn)");
    }
    if (colon != std::string::npos && rule.unit.empty()) {
      throw UserError(where + ": '" + words[0] + "' names no unit type after ':'");
    }
    rule.crunet = words[1];
    rule.mxnet = words[2];
    std::set<std::string> bound;
    for (const std::string& name : placeholders(rule.crunet, where)) {
      if (std::find(kBound.begin(), kBound.end(), name) == kBound.end()) {
        throw UserError(where + ": unknown placeholder {" + name + "} in '" + rule.crunet +
                        "' (crunet names take {stage}, {unit}, {share})");
      }
      if (!bound.insert(name).second) {
        throw UserError(where + ": {" + name + "} appears twice in '" + rule.crunet + "'");
      }
    }
    for (const std::string& name : placeholders(rule.mxnet, where)) {
      const bool derived = std::find(kDerived.begin(), kDerived.end(), name) != kDerived.end();
      if (derived && bound.count("stage") == 0) {
        throw UserError(where + ": {" + name + "} needs {stage} in the crunet name '" +
                        rule.crunet + "'");
      }
      if (!derived && bound.count(name) == 0) {
        throw UserError(where + ": {" + name + "} in '" + rule.mxnet +
                        "' is not bound by the crunet name '" + rule.crunet + "'");
      }
    }
    if (!rule.unit.empty() && bound.count("stage") == 0) {
      throw UserError(where + ": '" + words[0] + "' needs {stage} in the crunet name");
    }
    rules.push_back(std::move(rule));
  }
  if (rules.empty()) throw UserError(source + ": the name map has no rules");
  return rules;
}

std::vector<MxnetNameRule> load_mxnet_name_map(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open the name map");
  std::stringstream text;
  text << in.rdbuf();
  return parse_mxnet_name_map(text.str(), path);
}

std::string default_mxnet_name_map() {
  std::vector<std::string> tried;
  for (const std::string& zoo : zoo_directories()) {
    const fs::path path = fs::path(zoo).parent_path() / "maps" / "mxnet_crunet.map";
    std::error_code error;
    if (fs::is_regular_file(path, error)) return path.string();
    tried.push_back(path.string());
  }
  std::string list;
  for (const std::string& path : tried) list += " " + path;
  throw UserError("no MXNet name map found (looked for" + list + "); pass --map FILE");
}

std::map<std::string, MxnetBatchNorm> parse_mxnet_symbol_batch_norms(const std::string& json,
                                                                     const std::string& source) {
  nlohmann::json graph;
  try {
    graph = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(source + ": not JSON: " + e.what());
  }
  if (!graph.is_object() || !graph.contains("nodes") || !graph["nodes"].is_array()) {
    throw UserError(source + ": not an MXNet symbol file (no \"nodes\" list)");
  }
  const nlohmann::json& nodes = graph["nodes"];
  std::map<std::string, MxnetBatchNorm> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const nlohmann::json& node = nodes[i];
    if (!node.is_object() || !node.contains("op") || node["op"] != "BatchNorm") continue;
    const std::string where = source + ": node " + std::to_string(i);
    // The attributes are "attrs" since MXNet 1.0, "attr" or "param" in older files.
    nlohmann::json attrs = nlohmann::json::object();
    for (const char* key : {"attrs", "attr", "param"}) {
      if (node.contains(key) && node[key].is_object()) attrs = node[key];
    }
    MxnetBatchNorm bn;
    try {
      if (attrs.contains("eps")) bn.eps = std::stod(attrs["eps"].get<std::string>());
      if (attrs.contains("fix_gamma")) {
        const std::string value = attrs["fix_gamma"].get<std::string>();
        bn.fix_gamma = value == "True" || value == "true" || value == "1";
      }
    } catch (const std::exception& e) {
      throw UserError(where + ": BatchNorm attributes eps / fix_gamma unreadable: " + e.what());
    }
    if (!(bn.eps > 0 && bn.eps < 1)) {
      throw UserError(where + ": BatchNorm eps " + std::to_string(bn.eps) + " is not in (0, 1)");
    }
    // inputs: [data, gamma, beta, moving_mean, moving_var], each [node, index, version].
    if (!node.contains("inputs") || !node["inputs"].is_array() || node["inputs"].size() < 2 ||
        !node["inputs"][1].is_array() || node["inputs"][1].empty() ||
        !node["inputs"][1][0].is_number_unsigned() ||
        node["inputs"][1][0].get<std::uint64_t>() >= nodes.size()) {
      throw UserError(where + ": a BatchNorm without a valid gamma input");
    }
    const nlohmann::json& gamma = nodes[node["inputs"][1][0].get<std::size_t>()];
    if (!gamma.is_object() || !gamma.contains("name") || !gamma["name"].is_string()) {
      throw UserError(where + ": the BatchNorm's gamma input has no name");
    }
    out[gamma["name"].get<std::string>()] = bn;
  }
  return out;
}

std::map<std::string, MxnetBatchNorm> read_mxnet_symbol_batch_norms(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open the MXNet symbol file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_mxnet_symbol_batch_norms(text.str(), path);
}

std::vector<std::pair<std::string, std::string>> mxnet_names(
    const nn::Module& module, const ModelSpec& spec, const std::vector<MxnetNameRule>& rules) {
  const std::vector<std::regex> expressions = rule_expressions(rules);
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& entry : module.state_dict()) {
    if (entry.first.size() >= 19 &&
        entry.first.compare(entry.first.size() - 19, 19, "num_batches_tracked") == 0) {
      continue;
    }
    names.emplace_back(entry.first, find_target(entry.first, rules, expressions, spec).mxnet);
  }
  return names;
}

MxnetImport import_mxnet(const nn::Module& module, const ModelSpec& spec,
                         const std::vector<MxnetArray>& arrays,
                         const std::vector<MxnetNameRule>& rules,
                         const std::map<std::string, MxnetBatchNorm>& batch_norms) {
  std::map<std::string, const MxnetArray*> by_name;
  for (const MxnetArray& array : arrays) by_name[array.name] = &array;
  std::map<std::string, const nn::BatchNorm2d*> crunet_bns;
  batch_norms_of(module, "", crunet_bns);
  const std::vector<std::regex> expressions = rule_expressions(rules);

  MxnetImport result;
  std::set<std::string> used;
  for (const auto& [name, tensor] : module.state_dict()) {
    const std::size_t dot = name.rfind('.');
    const std::string field = dot == std::string::npos ? name : name.substr(dot + 1);
    const std::string owner = dot == std::string::npos ? "" : name.substr(0, dot);
    if (field == "num_batches_tracked") {  // MXNet has no such counter
      result.state.emplace_back(name, tensor);
      continue;
    }
    const Target target = find_target(name, rules, expressions, spec);
    if (!target.rule) {
      result.problems.push_back(name + " " + shape_text(tensor.shape()) +
                                ": no rule of the name map matches it");
      result.state.emplace_back(name, tensor);
      continue;
    }
    const auto found = by_name.find(target.mxnet);
    if (found == by_name.end()) {
      result.problems.push_back(name + " " + shape_text(tensor.shape()) + ": " + target.mxnet +
                                " (" + target.rule->source + ") is not in the .params file");
      result.state.emplace_back(name, tensor);
      continue;
    }
    const MxnetArray& array = *found->second;
    used.insert(array.name);
    if (array.shape != tensor.shape()) {
      result.problems.push_back(name + " " + shape_text(tensor.shape()) + ": " + array.name +
                                " has shape " + shape_text(array.shape));
      result.state.emplace_back(name, tensor);
      continue;
    }
    std::vector<float> values = array.values;
    if (!target.field.empty() && (target.field == "weight" || target.field == "running_var")) {
      const auto bn = batch_norms.find(target.bn_prefix + "_gamma");
      const auto crunet_bn = crunet_bns.find(owner);
      if (bn == batch_norms.end()) {
        result.problems.push_back(name + ": the symbol file has no BatchNorm whose gamma is " +
                                  target.bn_prefix + "_gamma");
      } else if (crunet_bn == crunet_bns.end()) {
        result.problems.push_back(name + ": " + owner + " is not a BatchNorm2d of the model");
      } else if (target.field == "weight" && bn->second.fix_gamma) {
        std::fill(values.begin(), values.end(), 1.0f);  // MXNet ignores a fixed gamma's value
      } else if (target.field == "running_var") {
        // (x - m) / sqrt(v + eps_mx) == (x - m) / sqrt(v' + eps) with v' = v + eps_mx - eps.
        const double shift = bn->second.eps - static_cast<double>(crunet_bn->second->eps());
        for (float& v : values) v = static_cast<float>(static_cast<double>(v) + shift);
      }
    }
    result.state.emplace_back(name, from_vector(values, tensor.shape()));
    ++result.arrays_used;
  }
  for (const MxnetArray& array : arrays) {
    if (used.count(array.name) == 0) {
      result.unused.push_back(array.name + " " + shape_text(array.shape));
    }
  }
  return result;
}

}  // namespace crunet::models
