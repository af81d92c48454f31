#include "config/yaml_reader.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "crunet/core/error.h"

namespace crunet::config {

YamlReader::YamlReader(YAML::Node node, std::string file, std::string path)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {
  if (!node_.IsMap()) {
    const std::string at = file_ + ":" + std::to_string(node_.Mark().line + 1) + ": " +
                           (path_.empty() ? std::string("the document") : path_);
    throw UserError(at + " must be a map of keys to values");
  }
}

std::string YamlReader::where(const std::string& key) const {
  const YAML::Node value = node_[key];
  const int line = (value ? value.Mark().line : node_.Mark().line) + 1;
  const std::string full = path_.empty() ? key : path_ + "." + key;
  return file_ + ":" + std::to_string(std::max(line, 1)) + ": " + full;
}

void YamlReader::fail(const std::string& key, const std::string& message) const {
  throw UserError(where(key) + ": " + message);
}

bool YamlReader::has(const std::string& key) const { return static_cast<bool>(node_[key]); }

YAML::Node YamlReader::required(const std::string& key) const {
  YAML::Node value = node_[key];
  if (!value || value.IsNull()) fail(key, "missing required key '" + key + "'");
  return value;
}

std::int64_t YamlReader::integer(const std::string& key) const {
  const YAML::Node value = required(key);
  try {
    if (!value.IsScalar()) throw YAML::Exception(value.Mark(), "not a scalar");
    return value.as<std::int64_t>();
  } catch (const YAML::Exception&) {
    fail(key, "must be an integer, got '" + YAML::Dump(value) + "'");
  }
}

std::int64_t YamlReader::integer(const std::string& key, std::int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

double YamlReader::number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node value = node_[key];
  try {
    if (!value.IsScalar()) throw YAML::Exception(value.Mark(), "not a scalar");
    return value.as<double>();
  } catch (const YAML::Exception&) {
    fail(key, "must be a number, got '" + YAML::Dump(value) + "'");
  }
}

std::string YamlReader::text(const std::string& key) const {
  const YAML::Node value = required(key);
  if (!value.IsScalar()) fail(key, "must be a string, got '" + YAML::Dump(value) + "'");
  return value.as<std::string>();
}

std::string YamlReader::text(const std::string& key, const std::string& fallback) const {
  return has(key) ? text(key) : fallback;
}

bool YamlReader::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node value = node_[key];
  try {
    if (!value.IsScalar()) throw YAML::Exception(value.Mark(), "not a scalar");
    return value.as<bool>();
  } catch (const YAML::Exception&) {
    fail(key, "must be true or false, got '" + YAML::Dump(value) + "'");
  }
}

YamlReader YamlReader::map(const std::string& key) const {
  const YAML::Node value = required(key);
  if (!value.IsMap()) fail(key, "must be a map of keys to values");
  return YamlReader(value, file_, path_.empty() ? key : path_ + "." + key);
}

std::vector<YamlReader> YamlReader::list_of_maps(const std::string& key) const {
  const YAML::Node value = required(key);
  if (!value.IsSequence() || value.size() == 0) fail(key, "must be a non-empty list");
  std::vector<YamlReader> out;
  const std::string base = path_.empty() ? key : path_ + "." + key;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string item = base + "[" + std::to_string(i) + "]";
    if (!value[i].IsMap()) {
      throw UserError(file_ + ":" + std::to_string(value[i].Mark().line + 1) + ": " + item +
                      " must be a map of keys to values");
    }
    out.emplace_back(value[i], file_, item);
  }
  return out;
}

void YamlReader::check_keys(const std::vector<std::string>& allowed) const {
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    const std::string suggestion = closest_match(key, allowed);
    const std::string full = path_.empty() ? key : path_ + "." + key;
    throw UserError(file_ + ":" + std::to_string(entry.first.Mark().line + 1) + ": " + full +
                    ": unknown key '" + key + "'" +
                    (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?"));
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UserError(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                    std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_yaml(buffer.str(), path);
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const std::string& candidate : candidates) {
    // Levenshtein distance, one row at a time.
    std::vector<std::size_t> row(candidate.size() + 1);
    for (std::size_t j = 0; j <= candidate.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= candidate.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                           diagonal + (word[i - 1] == candidate[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    if (row[candidate.size()] < best_distance) {
      best_distance = row[candidate.size()];
      best = candidate;
    }
  }
  // Close means at most a third of the word changed (and at least one edit allowed).
  if (best_distance == std::string::npos || best_distance > std::max<std::size_t>(1, word.size() / 3 + 1)) {
    return "";
  }
  return best;
}

}  // namespace crunet::config
