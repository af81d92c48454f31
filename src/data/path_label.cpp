// Label files, "path label" a line: ImageNet's validation ground truth beside its flat folder,
// Places365's list files beside its nested data_256 folder. Decoded on demand like list files.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "crunet/data/class_map.h"
#include "crunet/data/dataset.h"

namespace crunet::data {
namespace {

namespace fs = std::filesystem;

// A class index written as a plain decimal integer (a leading '-' included, to report it).
bool parse_index(const std::string& text, std::int64_t& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  value = parsed;
  return true;
}

std::string shorten(const std::string& line) {
  return line.size() > 80 ? line.substr(0, 77) + "..." : line;
}

}  // namespace

PathLabelDataset::PathLabelDataset(std::string label_file, std::string image_root,
                                   std::int64_t channels, std::int64_t classes,
                                   std::vector<std::string> class_names)
    : label_file_(std::move(label_file)), image_root_(std::move(image_root)), channels_(channels),
      class_names_(std::move(class_names)) {
  if (channels_ != 1 && channels_ != 3) {
    throw ValueError("label file " + label_file_ + ": channels must be 1 or 3, not " +
                     std::to_string(channels_));
  }
  std::error_code error;
  if (!fs::is_directory(image_root_, error)) {
    throw UserError("image folder " + image_root_ + " of label file " + label_file_ +
                    ": no such directory");
  }
  if (!fs::is_regular_file(label_file_, error)) throw UserError(label_file_ + ": no such label file");
  if (!class_names_.empty()) {
    if (classes > 0 && classes != static_cast<std::int64_t>(class_names_.size())) {
      throw UserError("label file " + label_file_ + ": " + std::to_string(classes) +
                      " classes asked for but the class names are " +
                      std::to_string(class_names_.size()));
    }
    classes = static_cast<std::int64_t>(class_names_.size());
  }
  std::unordered_map<std::string, std::int64_t> index_of_name;
  for (std::size_t i = 0; i < class_names_.size(); ++i) {
    index_of_name[class_names_[i]] = static_cast<std::int64_t>(i);
  }
  std::ifstream in(label_file_);
  if (!in) throw UserError(label_file_ + ": cannot open the label file");
  std::string line;
  std::int64_t number = 0;
  std::int64_t largest = -1;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = label_file_ + ":" + std::to_string(number) + ": ";
    std::string path, label_text;
    if (!split_last_field(line, path, label_text)) {
      throw UserError(where + "expected 'path label', got '" + shorten(line) + "'");
    }
    std::int64_t label = 0;
    const auto named = index_of_name.find(label_text);
    if (named != index_of_name.end()) {
      label = named->second;
    } else if (!parse_index(label_text, label)) {
      throw UserError(where + "the label '" + label_text + "' is " +
                      (class_names_.empty()
                           ? "not a class index, and no class names are known (data.class_map, "
                             "or an image-folder training split, gives them)"
                           : "neither a class index nor one of the " +
                                 std::to_string(class_names_.size()) + " class names"));
    }
    if (label < 0) throw UserError(where + "the label " + label_text + " is negative");
    if (label >= 100000000) {
      throw UserError(where + "the label " + label_text + " is too large (at most 99999999)");
    }
    if (classes > 0 && label >= classes) {
      throw UserError(where + "the label " + label_text + " is out of range for " +
                      std::to_string(classes) + " classes");
    }
    // A leading '/' is relative to the image folder too (Places365 writes "/a/abbey/...").
    const std::size_t start = path.find_first_not_of('/');
    if (start == std::string::npos) throw UserError(where + "the path is empty");
    paths_.push_back(path.substr(start));
    labels_.push_back(label);
    largest = std::max(largest, label);
  }
  if (in.bad()) throw UserError(label_file_ + ": cannot read the label file");
  if (paths_.empty()) throw UserError(label_file_ + ": the label file has no samples");
  classes_ = classes > 0 ? classes : largest + 1;
}

std::string PathLabelDataset::path(std::int64_t index) const {
  if (index < 0 || index >= size()) {
    throw ValueError("label file " + label_file_ + ": index " + std::to_string(index) +
                     " out of range for " + std::to_string(size()) + " samples");
  }
  return (fs::path(image_root_) / paths_[static_cast<std::size_t>(index)]).string();
}

Example PathLabelDataset::get(std::int64_t index) const {
  Example example;
  example.image = read_image(path(index), channels_);
  example.label = labels_[static_cast<std::size_t>(index)];
  return example;
}

std::string PathLabelDataset::describe() const {
  return "label file " + label_file_ + " (images under " + image_root_ + "; " +
         std::to_string(classes_) + " classes, " + std::to_string(size()) + " images)";
}

}  // namespace crunet::data
