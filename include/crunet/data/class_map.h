#pragma once
// Class maps: which class name each label index stands for. One class a line, `name index`
// (the name is everything before the last space or tab, so names may hold spaces), every index
// 0 .. N-1 exactly once, in any order; blank lines are ignored. This is the layout of Places365's
// categories_places365.txt ("/a/abbey 0"); crunet-make-list writes one next to each list file.
#include <string>
#include <vector>

namespace crunet::data {

// The names in label order. A missing file, a malformed line, an index out of 0 .. N-1, a
// repeated index or name is a UserError "file:line: ...".
std::vector<std::string> read_class_map(const std::string& path);
// Writes `names` (in label order) as a class map; a file that cannot be written is a UserError.
void write_class_map(const std::string& path, const std::vector<std::string>& names);

// Splits "path label" at its last run of spaces or tabs (trailing ones and a '\r' removed):
// false when there is no separator or either side is empty. Shared by class maps and label files.
bool split_last_field(const std::string& line, std::string& head, std::string& last);

}  // namespace crunet::data
