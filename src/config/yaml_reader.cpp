#include "config/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace crunet::config {

// --- Problems ------------------------------------------------------------------------------------

namespace {

// `path` is `prefix` or a key path beneath it ("data.augment.size" under "data.augment").
bool is_within(const std::string& path, const std::string& prefix) {
  return path.compare(0, prefix.size(), prefix) == 0 &&
         (path.size() == prefix.size() || path[prefix.size()] == '.' || path[prefix.size()] == '[');
}

}  // namespace

void Problems::add(const std::string& path, int line, const std::string& text) {
  for (std::size_t i = 0; i < texts_.size(); ++i) {
    if (texts_[i] == text) return;
    const std::string& earlier = paths_[i];
    // The same key, or a key inside it: a consequence of the earlier problem.
    if (!earlier.empty() && is_within(path, earlier)) return;
  }
  paths_.push_back(path);
  lines_.push_back(line);
  texts_.push_back(text);
}

void Problems::add(const UserError& error) {
  const auto* own = dynamic_cast<const ConfigProblems*>(&error);
  if (own != nullptr && own->owner() == this) return;  // already recorded, one by one
  const std::string text = error.what();
  if (std::find(texts_.begin(), texts_.end(), text) == texts_.end()) {
    paths_.emplace_back();
    lines_.push_back(std::numeric_limits<int>::max());
    texts_.push_back(text);
  }
}

std::string Problems::message(const std::string& file) const {
  if (texts_.size() == 1) return texts_.front();
  std::vector<std::size_t> order(texts_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return lines_[a] < lines_[b]; });
  std::string out = file + ": " + std::to_string(texts_.size()) + " problems:";
  for (std::size_t i : order) {
    const std::string& text = texts_[i];
    // Lines of a multi-line problem stay together, indented under it.
    std::string indented = text;
    for (std::size_t at = indented.find('\n'); at != std::string::npos;
         at = indented.find('\n', at + 1)) {
      indented.insert(at + 1, "    ");
    }
    out += "\n  " + indented;
  }
  return out;
}

void Problems::raise(const std::string& file) const {
  if (!texts_.empty()) throw ConfigProblems(message(file), this);
}

void Problems::set_origin(const std::string& path, const std::string& origin) {
  origins_.emplace_back(path, origin);
}

std::string Problems::origin_of(const std::string& path) const {
  for (auto it = origins_.rbegin(); it != origins_.rend(); ++it) {
    if (is_within(path, it->first)) return it->second;
  }
  return "";
}

// --- YamlReader ----------------------------------------------------------------------------------

YamlReader::YamlReader(YAML::Node node, std::string file, std::string path,
                       std::shared_ptr<Problems> problems)
    : node_(std::move(node)),
      file_(std::move(file)),
      path_(std::move(path)),
      problems_(std::move(problems)) {
  if (!node_.IsMap()) {
    const std::string at = location(path_, std::max(node_.Mark().line, 0) + 1) + ": " +
                           (path_.empty() ? std::string("the document") : path_);
    const std::string text = at + " must be a map of keys to values";
    if (!problems_) throw UserError(text);
    problems_->add(path_, std::max(node_.Mark().line, 0) + 1, text);
    problems_->raise(file_);
  }
}

std::string YamlReader::full(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::string YamlReader::where(const std::string& key) const {
  const YAML::Node value = node_[key];
  const int line = (value ? value.Mark().line : node_.Mark().line) + 1;
  return location(full(key), line) + ": " + full(key);
}

std::string YamlReader::location(const std::string& path, int line) const {
  const std::string origin = problems_ ? problems_->origin_of(path) : "";
  return origin.empty() ? file_ + ":" + std::to_string(std::max(line, 1)) : origin;
}

void YamlReader::report_at(const std::string& path, int line, const std::string& message) const {
  const std::string text = location(path, line) + ": " + path + ": " + message;
  if (!problems_) throw UserError(text);
  problems_->add(path, std::max(line, 1), text);
}

void YamlReader::report(const std::string& key, const std::string& message) const {
  const YAML::Node value = node_[key];
  report_at(full(key), (value ? value.Mark().line : node_.Mark().line) + 1, message);
}

void YamlReader::fail(const std::string& key, const std::string& message) const {
  report(key, message);
  problems_->raise(file_);
  throw UserError(where(key) + ": " + message);  // not reached: raise throws
}

bool YamlReader::has(const std::string& key) const { return static_cast<bool>(node_[key]); }

// The value, or an invalid node after reporting a missing key.
YAML::Node YamlReader::required(const std::string& key) const {
  YAML::Node value = node_[key];
  if (!value || value.IsNull()) {
    report(key, "missing required key '" + key + "'");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return value;
}

namespace {

// A value shown in a message: one line, and not the whole of a large map.
std::string shown(const YAML::Node& value) {
  std::string text = YAML::Dump(value);
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

template <class T>
bool scalar_as(const YAML::Node& value, T& out) {
  return value.IsScalar() && YAML::convert<T>::decode(value, out);
}

}  // namespace

std::int64_t YamlReader::integer(const std::string& key) const {
  const YAML::Node value = required(key);
  std::int64_t out = 0;
  if (value.IsDefined() && !scalar_as(value, out)) {
    report(key, "must be an integer, got '" + shown(value) + "'");
    return 0;
  }
  return out;
}

std::int64_t YamlReader::integer(const std::string& key, std::int64_t fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node value = node_[key];
  std::int64_t out = 0;
  if (!scalar_as(value, out)) {
    report(key, "must be an integer, got '" + shown(value) + "'");
    return fallback;
  }
  return out;
}

double YamlReader::number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node value = node_[key];
  double out = 0;
  if (!scalar_as(value, out)) {
    report(key, "must be a number, got '" + shown(value) + "'");
    return fallback;
  }
  if (!std::isfinite(out)) {
    report(key, "must be a finite number, got '" + shown(value) + "'");
    return fallback;
  }
  return out;
}

std::string YamlReader::text(const std::string& key) const {
  const YAML::Node value = required(key);
  if (!value.IsDefined()) return "";
  if (!value.IsScalar()) {
    report(key, "must be a string, got '" + shown(value) + "'");
    return "";
  }
  return value.Scalar();
}

std::string YamlReader::text(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node value = node_[key];
  if (!value.IsScalar()) {
    report(key, "must be a string, got '" + shown(value) + "'");
    return fallback;
  }
  return value.Scalar();
}

bool YamlReader::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node value = node_[key];
  bool out = false;
  if (!scalar_as(value, out)) {
    report(key, "must be true or false, got '" + shown(value) + "'");
    return fallback;
  }
  return out;
}

YamlReader YamlReader::map(const std::string& key) const {
  const YAML::Node value = required(key);
  if (value.IsDefined() && value.IsMap()) return YamlReader(value, file_, full(key), problems_);
  if (value.IsDefined()) report(key, "must be a map of keys to values");
  if (!problems_) throw UserError(where(key) + ": must be a map of keys to values");  // not reached
  // Collecting: an empty map, so that parsing goes on with the defaults.
  return YamlReader(YAML::Node(YAML::NodeType::Map), file_, full(key), problems_);
}

YamlReader YamlReader::optional_map(const std::string& key) const {
  if (has(key)) return map(key);
  return YamlReader(YAML::Node(YAML::NodeType::Map), file_, full(key), problems_);
}

std::vector<YamlReader> YamlReader::list_of_maps(const std::string& key) const {
  std::vector<YamlReader> out;
  const YAML::Node value = required(key);
  if (!value.IsDefined()) return out;
  if (!value.IsSequence() || value.size() == 0) {
    report(key, "must be a non-empty list");
    return out;
  }
  const std::string base = full(key);
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string item = base + "[" + std::to_string(i) + "]";
    if (!value[i].IsMap()) {
      report_at(item, value[i].Mark().line + 1, "must be a map of keys to values");
      continue;
    }
    out.emplace_back(value[i], file_, item, problems_);
  }
  return out;
}

void YamlReader::check_keys(const std::vector<std::string>& allowed) const {
  std::set<std::string> seen;
  for (const auto& entry : node_) {
    const int line = entry.first.Mark().line + 1;
    if (!entry.first.IsScalar()) {
      report_at(path_.empty() ? std::string("(key)") : path_, line,
                "a key must be a name, got '" + shown(entry.first) + "'");
      continue;
    }
    const std::string key = entry.first.Scalar();
    if (!seen.insert(key).second) {
      report_at(full(key), line, "the key '" + key + "' is given more than once");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    report_at(full(key), line, "unknown key '" + key + "'" + did_you_mean(key, allowed));
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

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string suggestion = closest_match(word, candidates);
  return suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?";
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : ", ") + word;
  return out;
}

}  // namespace crunet::config
