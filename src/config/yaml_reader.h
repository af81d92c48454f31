#pragma once
// Shared by every YAML reader (models, data, training configs). Reads typed values out of a YAML map and reports problems as crunet::UserError naming the file,
// the line and the key path ("configs/models/x.yaml:7: stages[2].width: must be positive").
//
// A reader either stops at the first problem (the default) or, given a `Problems` collector,
// records every problem of the document and carries on with a safe value, so that one UserError
// lists them all (`Problems::raise`). Parsers are written once for both: they `report` a problem
// and continue with a fallback, and `fail` only where they cannot go on.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "crunet/core/error.h"

namespace crunet::config {

// Thrown by a collecting reader that cannot go on (YamlReader::fail) and by Problems::raise: every
// problem found so far, one per line. `owner` is the collector that recorded them.
class ConfigProblems : public UserError {
 public:
  ConfigProblems(const std::string& what, const void* owner) : UserError(what), owner_(owner) {}
  const void* owner() const { return owner_; }

 private:
  const void* owner_;
};

// The problems of one document, listed by line. A problem at a key path beneath one already
// reported (data.root after data) is a consequence of it and left out.
class Problems {
 public:
  // `path` is the full key path ("optim.lr"), `line` its line in the document, `text` the whole
  // line of the message ("file:7: optim.lr: ...").
  void add(const std::string& path, int line, const std::string& text);
  // A UserError thrown by a parser that does not collect (a model file, a zoo name): recorded as
  // it is, unless it came from this collector.
  void add(const UserError& error);
  // Runs `parse`, recording a UserError it throws instead of passing it on.
  template <class Parse>
  void guard(Parse&& parse) {
    try {
      parse();
    } catch (const UserError& e) {
      add(e);
    }
  }
  bool empty() const { return texts_.empty(); }
  std::size_t size() const { return texts_.size(); }
  // One problem: its line. Several: "FILE: N problems:" and one indented line each.
  std::string message(const std::string& file) const;
  // Throws ConfigProblems listing every problem; does nothing when there is none.
  void raise(const std::string& file) const;
  // A value given outside the file (`--set optim.lr=-1`): problems at `path` or beneath it name
  // `origin` instead of a line of the file, which does not hold that value.
  void set_origin(const std::string& path, const std::string& origin);
  // The origin of the value at `path`, or "" for a value of the file.
  std::string origin_of(const std::string& path) const;

 private:
  std::vector<std::pair<std::string, std::string>> origins_;  // the last one given wins
  std::vector<std::string> paths_;
  std::vector<int> lines_;  // INT_MAX: not known (a UserError from elsewhere)
  std::vector<std::string> texts_;
};

class YamlReader {
 public:
  // `path` is the key path of this map inside the document ("" for the top, "stages[2]").
  // Without `problems` the first problem throws a UserError; with it, problems are collected.
  YamlReader(YAML::Node node, std::string file, std::string path = "",
             std::shared_ptr<Problems> problems = nullptr);

  bool has(const std::string& key) const;
  // The getters report a value of the wrong type (and a missing required key) and then return
  // the fallback (0, "" for required keys) when collecting.
  std::int64_t integer(const std::string& key) const;  // required
  std::int64_t integer(const std::string& key, std::int64_t fallback) const;
  double number(const std::string& key, double fallback) const;
  std::string text(const std::string& key) const;  // required
  std::string text(const std::string& key, const std::string& fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  YamlReader map(const std::string& key) const;           // required, must be a map
  YamlReader optional_map(const std::string& key) const;  // an empty map when absent
  std::vector<YamlReader> list_of_maps(const std::string& key) const;  // required, non-empty
  YAML::Node node(const std::string& key) const { return node_[key]; }
  const YAML::Node& node() const { return node_; }

  // Every key of this map must be one of `allowed` and given once; each unknown key is a problem
  // naming the closest allowed key.
  void check_keys(const std::vector<std::string>& allowed) const;

  // "file:line: path.key" for a key of this map (its own line when the key is absent).
  std::string where(const std::string& key) const;
  // A problem with `key`: thrown at once, or recorded when collecting.
  void report(const std::string& key, const std::string& message) const;
  // A problem after which this parser cannot go on: reported, then thrown (when collecting, as
  // ConfigProblems listing everything found so far).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  const std::string& file() const { return file_; }
  bool collecting() const { return problems_ != nullptr; }
  const std::shared_ptr<Problems>& problems() const { return problems_; }

 private:
  YAML::Node required(const std::string& key) const;
  std::string full(const std::string& key) const;
  void report_at(const std::string& path, int line, const std::string& message) const;
  // "file:line", or the origin of a value set from elsewhere (Problems::set_origin).
  std::string location(const std::string& path, int line) const;
  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::shared_ptr<Problems> problems_;
};

// Parses YAML text; a syntax error becomes a UserError with the file, line and column.
YAML::Node parse_yaml(const std::string& text, const std::string& file);
YAML::Node load_yaml_file(const std::string& path);

// The candidate closest to `word` by edit distance, or "" when none is reasonably close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// "; did you mean 'x'?" with the closest candidate, or "" when none is close: the end of every
// unknown-name message.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);
// "a, b, c", for the lists of known names in messages.
std::string join_words(const std::vector<std::string>& words);

}  // namespace crunet::config
