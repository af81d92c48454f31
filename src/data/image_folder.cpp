// Image folders (one sub-folder per class) and MXNet list files: both decode their images on
// demand, from as many threads as the loader runs.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "crunet/data/dataset.h"

namespace crunet::data {
namespace {

namespace fs = std::filesystem;

bool has_image_extension(const fs::path& path) {
  static const std::set<std::string> extensions = {".jpg", ".jpeg", ".png",  ".bmp", ".ppm",
                                                   ".pgm", ".pbm",  ".webp", ".tif", ".tiff"};
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extensions.count(extension) > 0;
}

bool hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

void check_directory(const std::string& path, const std::string& what) {
  std::error_code error;
  if (!fs::exists(path, error)) throw UserError(what + " " + path + ": no such directory");
  if (!fs::is_directory(path, error)) throw UserError(what + " " + path + ": not a directory");
}

void check_channels(std::int64_t channels, const std::string& what) {
  if (channels != 1 && channels != 3) {
    throw ValueError(what + ": channels must be 1 or 3, not " + std::to_string(channels));
  }
}

void check_index(std::int64_t index, std::int64_t size, const std::string& what) {
  if (index < 0 || index >= size) {
    throw ValueError(what + ": index " + std::to_string(index) + " out of range for " +
                     std::to_string(size) + " samples");
  }
}

std::string join_path(const std::string& root, const std::string& relative) {
  if (!relative.empty() && relative[0] == '/') return relative;
  if (root.empty()) return relative;
  return root.back() == '/' ? root + relative : root + "/" + relative;
}

}  // namespace

std::string Dataset::sample_name(std::int64_t index) const {
  return "sample " + std::to_string(index);
}

// --- image folder
// ---------------------------------------------------------------------------------

ImageFolderDataset::ImageFolderDataset(std::string root, std::int64_t channels,
                                       std::vector<std::string> classes)
    : root_(std::move(root)), channels_(channels) {
  check_channels(channels_, "image folder " + root_);
  check_directory(root_, "image folder");
  std::vector<std::string> folders;
  try {
    for (const auto& entry : fs::directory_iterator(root_)) {
      if (entry.is_directory() && !hidden(entry.path())) {
        folders.push_back(entry.path().filename().string());
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw UserError("image folder " + root_ + ": cannot list it: " + e.what());
  }
  std::sort(folders.begin(), folders.end());
  if (folders.empty()) {
    throw UserError("image folder " + root_ +
                    ": no class sub-folders (expected one folder of images per class)");
  }
  if (classes.empty()) {
    class_names_ = folders;
  } else {
    class_names_ = std::move(classes);
    for (const std::string& folder : folders) {
      if (std::find(class_names_.begin(), class_names_.end(), folder) == class_names_.end()) {
        throw UserError("image folder " + root_ + ": class folder '" + folder +
                        "' is not one of the " + std::to_string(class_names_.size()) +
                        " classes of the training set");
      }
    }
  }

  std::int64_t ignored = 0;
  std::string ignored_example;
  for (const std::string& folder : folders) {
    const std::int64_t label =
        std::find(class_names_.begin(), class_names_.end(), folder) - class_names_.begin();
    std::vector<std::string> names;
    try {
      const fs::path base = fs::path(root_) / folder;
      for (auto it = fs::recursive_directory_iterator(
               base, fs::directory_options::follow_directory_symlink);
           it != fs::recursive_directory_iterator(); ++it) {
        if (hidden(it->path())) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_directory()) continue;
        if (!has_image_extension(it->path())) {
          if (ignored++ == 0) ignored_example = it->path().string();
          continue;
        }
        names.push_back(folder + "/" + fs::relative(it->path(), base).string());
      }
    } catch (const fs::filesystem_error& e) {
      throw UserError("image folder " + root_ + ": cannot list class folder '" + folder +
                      "': " + e.what());
    }
    if (names.empty()) {
      throw UserError("image folder " + root_ + ": class folder '" + folder +
                      "' has no images (.jpg, .jpeg, .png, ...)");
    }
    std::sort(names.begin(), names.end());
    for (std::string& name : names) {
      files_.push_back(std::move(name));
      labels_.push_back(label);
    }
  }
  if (ignored > 0) {
    spdlog::warn("image folder {}: left out {} file(s) without an image extension, e.g. {}", root_,
                 ignored, ignored_example);
  }
}

std::string ImageFolderDataset::path(std::int64_t index) const {
  check_index(index, size(), "image folder " + root_);
  return join_path(root_, files_[static_cast<std::size_t>(index)]);
}

std::int64_t ImageFolderDataset::label(std::int64_t index) const {
  check_index(index, size(), "image folder " + root_);
  return labels_[static_cast<std::size_t>(index)];
}

Example ImageFolderDataset::get(std::int64_t index) const {
  Example example;
  example.image = read_image(path(index), channels_);
  example.label = labels_[static_cast<std::size_t>(index)];
  return example;
}

std::string ImageFolderDataset::describe() const {
  return "image folder " + root_ + " (" + std::to_string(classes()) + " classes, " +
         std::to_string(size()) + " images)";
}

// --- list file
// ------------------------------------------------------------------------------------

namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    fields.push_back(
        line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return fields;
}

bool parse_integer(const std::string& text, std::int64_t& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  value = parsed;
  return true;
}

// An integer label, also written as a float with an integral value ("3.000000").
bool parse_label(const std::string& text, std::int64_t& value) {
  if (parse_integer(text, value)) return true;
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(parsed) ||
      parsed != std::floor(parsed) || std::fabs(parsed) > 9.0e15) {
    return false;
  }
  value = static_cast<std::int64_t>(parsed);
  return true;
}

std::string shorten(const std::string& line) {
  std::string shown = line.size() > 80 ? line.substr(0, 77) + "..." : line;
  for (char& c : shown) {
    if (c == '\t') c = ' ';
  }
  return shown;
}

}  // namespace

ListFileDataset::ListFileDataset(std::string list_file, std::string image_root,
                                 std::int64_t channels, std::int64_t classes,
                                 std::vector<std::string> class_names)
    : list_file_(std::move(list_file)), image_root_(std::move(image_root)), channels_(channels),
      class_names_(std::move(class_names)) {
  if (!class_names_.empty()) {
    if (classes > 0 && classes != static_cast<std::int64_t>(class_names_.size())) {
      throw UserError("list file " + list_file_ + ": " + std::to_string(classes) +
                      " classes asked for but the class map has " +
                      std::to_string(class_names_.size()));
    }
    classes = static_cast<std::int64_t>(class_names_.size());
  }
  check_channels(channels_, "list file " + list_file_);
  if (!image_root_.empty())
    check_directory(image_root_, "image root of list file " + list_file_ + ":");
  std::error_code error;
  if (!fs::is_regular_file(list_file_, error)) {
    throw UserError(list_file_ + ": no such list file");
  }
  std::ifstream in(list_file_);
  if (!in) throw UserError(list_file_ + ": cannot open the list file");
  std::string line;
  std::int64_t number = 0;
  std::int64_t largest = -1;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = list_file_ + ":" + std::to_string(number) + ": ";
    const std::vector<std::string> fields = split_tabs(line);
    if (fields.size() < 3) {
      throw UserError(where + "expected 'index<TAB>label<TAB>path', got '" + shorten(line) + "'");
    }
    if (fields.size() > 3) {
      throw UserError(where + "has " + std::to_string(fields.size() - 2) +
                      " label columns; only one label per image is supported");
    }
    std::int64_t index = 0, label = 0;
    if (!parse_integer(fields[0], index)) {
      throw UserError(where + "the index '" + fields[0] + "' is not an integer");
    }
    if (!parse_label(fields[1], label)) {
      throw UserError(where + "the label '" + fields[1] + "' is not an integer");
    }
    if (label < 0) throw UserError(where + "the label " + fields[1] + " is negative");
    // As data.classes: at most 10^8 classes (and largest + 1 below cannot overflow).
    if (label >= 100000000) {
      throw UserError(where + "the label " + fields[1] + " is too large (at most 99999999)");
    }
    if (classes > 0 && label >= classes) {
      throw UserError(where + "the label " + std::to_string(label) + " is out of range for " +
                      std::to_string(classes) + " classes");
    }
    if (fields[2].empty()) throw UserError(where + "the path is empty");
    indices_.push_back(index);
    labels_.push_back(label);
    paths_.push_back(fields[2]);
    largest = std::max(largest, label);
  }
  if (in.bad()) throw UserError(list_file_ + ": cannot read the list file");
  if (paths_.empty()) throw UserError(list_file_ + ": the list file has no samples");
  classes_ = classes > 0 ? classes : largest + 1;
}

std::string ListFileDataset::path(std::int64_t index) const {
  check_index(index, size(), "list file " + list_file_);
  return join_path(image_root_, paths_[static_cast<std::size_t>(index)]);
}

Example ListFileDataset::get(std::int64_t index) const {
  Example example;
  example.image = read_image(path(index), channels_);
  example.label = labels_[static_cast<std::size_t>(index)];
  return example;
}

std::string ListFileDataset::describe() const {
  return "list file " + list_file_ + " (images under " +
         (image_root_.empty() ? std::string(".") : image_root_) + "; " + std::to_string(classes_) +
         " classes" + (class_names_.empty() ? "" : " from the class map") + ", " +
         std::to_string(size()) + " images)";
}

}  // namespace crunet::data
