#pragma once
// Shared by every YAML reader (models, data, training configs). Reads typed values out of a YAML map and reports problems as crunet::UserError naming the file,
// the line and the key path ("configs/models/x.yaml:7: stages[2].width: must be positive").
#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace crunet::config {

class YamlReader {
 public:
  // `path` is the key path of this map inside the document ("" for the top, "stages[2]").
  YamlReader(YAML::Node node, std::string file, std::string path = "");

  bool has(const std::string& key) const;
  std::int64_t integer(const std::string& key) const;  // required
  std::int64_t integer(const std::string& key, std::int64_t fallback) const;
  double number(const std::string& key, double fallback) const;
  std::string text(const std::string& key) const;  // required
  std::string text(const std::string& key, const std::string& fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  YamlReader map(const std::string& key) const;        // required, must be a map
  std::vector<YamlReader> list_of_maps(const std::string& key) const;  // required, non-empty
  YAML::Node node(const std::string& key) const { return node_[key]; }
  const YAML::Node& node() const { return node_; }

  // Every key of this map must be one of `allowed`; the first unknown one is an error naming the
  // closest allowed key.
  void check_keys(const std::vector<std::string>& allowed) const;

  // "file:line: path.key" for a key of this map (its own line when the key is absent).
  std::string where(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  const std::string& file() const { return file_; }

 private:
  YAML::Node required(const std::string& key) const;
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

// Parses YAML text; a syntax error becomes a UserError with the file, line and column.
YAML::Node parse_yaml(const std::string& text, const std::string& file);
YAML::Node load_yaml_file(const std::string& path);

// The candidate closest to `word` by edit distance, or "" when none is reasonably close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace crunet::config
