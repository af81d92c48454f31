// Class maps (crunet/data/class_map.h): read by data.class_map, written by crunet-make-list.
#include "crunet/data/class_map.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "crunet/core/error.h"

namespace crunet::data {

bool split_last_field(const std::string& line, std::string& head, std::string& last) {
  const std::size_t end = line.find_last_not_of(" \t\r");
  if (end == std::string::npos) return false;
  const std::size_t space = line.find_last_of(" \t", end);
  if (space == std::string::npos) return false;
  const std::size_t head_end = line.find_last_not_of(" \t", space);
  const std::size_t head_start = line.find_first_not_of(" \t");
  if (head_end == std::string::npos || head_start > head_end) return false;
  head = line.substr(head_start, head_end - head_start + 1);
  last = line.substr(space + 1, end - space);
  return true;
}

std::vector<std::string> read_class_map(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) throw UserError(path + ": no such class map");
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open the class map");
  std::map<long long, std::string> by_index;
  std::map<std::string, std::int64_t> lines_of_names;
  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    std::string name, index_text;
    if (!split_last_field(line, name, index_text)) {
      throw UserError(where + "expected 'class-name index', got '" + line + "'");
    }
    char* end = nullptr;
    errno = 0;
    const long long index = std::strtoll(index_text.c_str(), &end, 10);
    if (errno != 0 || end != index_text.c_str() + index_text.size() || index < 0 ||
        index >= 100000000) {
      throw UserError(where + "the class index '" + index_text +
                      "' is not an integer in [0, 99999999]");
    }
    if (by_index.count(index) > 0) {
      throw UserError(where + "class index " + index_text + " is given twice");
    }
    if (lines_of_names.count(name) > 0) {
      throw UserError(where + "class name '" + name + "' is given twice (first on line " +
                      std::to_string(lines_of_names[name]) + ")");
    }
    by_index[index] = name;
    lines_of_names[name] = number;
  }
  if (in.bad()) throw UserError(path + ": cannot read the class map");
  if (by_index.empty()) throw UserError(path + ": the class map has no classes");
  std::vector<std::string> names;
  for (const auto& [index, name] : by_index) {
    if (index != static_cast<long long>(names.size())) {
      throw UserError(path + ": class index " + std::to_string(names.size()) +
                      " is missing (the indices must be 0 .. " +
                      std::to_string(by_index.size() - 1) + ")");
    }
    names.push_back(name);
  }
  return names;
}

void write_class_map(const std::string& path, const std::vector<std::string>& names) {
  std::ofstream out(path);
  for (std::size_t i = 0; i < names.size(); ++i) out << names[i] << ' ' << i << '\n';
  out.close();
  if (!out) throw UserError(path + ": cannot write the class map");
}

}  // namespace crunet::data
