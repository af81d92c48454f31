// crunet-make-list: a list file (MXNet's .lst, as `im2rec --list` writes it) from a data set as it
// comes: a class-folder tree (ImageNet's train/<wnid>/*.JPEG), or a folder of images with a label
// file ("path label" lines: ImageNet's flat validation folder, Places365's list files), and the
// class map next to it (crunet/data/class_map.h). Bad input exits 2 with the file and line.
// With --rec-index FILE.rec it writes the .idx of a RecordIO file instead (MXNet's format, as
// tools/rec2idx.py writes it), from one scan of the file.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "crunet/data.h"
#include "tool_main.h"

namespace {

namespace fs = std::filesystem;

// The class map's file: the list file's name with ".classes" for its extension.
std::string class_map_path(const std::string& list_file) {
  return fs::path(list_file).replace_extension(".classes").string();
}

// The .idx of a RecordIO file, by a scan of it: beside it (FILE.idx) unless `output` says where.
int write_rec_index(const std::string& rec_file, const std::string& output) {
  const std::string idx_file =
      output.empty() ? fs::path(rec_file).replace_extension(".idx").string() : output;
  // `--output x.rec`, or a .rec named x.idx: the index would be written over the records.
  crunet::tools::refuse_output_over_input(output.empty() ? "the index" : "--output", idx_file,
                                          {{"--rec-index", rec_file}});
  const crunet::data::RecordScan scan = crunet::data::scan_record_file(rec_file);
  crunet::data::write_record_index(idx_file, scan.entries);
  std::printf("%s: %zu records of %s (keys 0 to %zu)\n", idx_file.c_str(), scan.entries.size(),
              rec_file.c_str(), scan.entries.size() - 1);
  if (scan.corrupt_regions > 0) {
    std::printf(
        "warning: passed over %lld corrupt byte(s) in %lld region(s), the first at byte "
        "%lld; the records there are not in the index\n",
        static_cast<long long>(scan.skipped_bytes), static_cast<long long>(scan.corrupt_regions),
        static_cast<long long>(scan.first_corrupt_offset));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Write a list file (index, label, path a line) and its class map from a class-folder "
      "tree or from a folder of images and a label file",
      "crunet-make-list"};
  std::string root, labels, class_map, output, rec_index;
  app.add_option("--root", root,
                 "the images: a folder of class folders, or the folder the label "
                 "file's paths are relative to (required, but for --rec-index)");
  app.add_option("--labels", labels,
                 "a label file, 'path label' a line (label: class index or class name); without "
                 "it, --root is a class-folder tree");
  app.add_option("--class-map", class_map,
                 "the class names in label order (a class map, e.g. the training list's "
                 ".classes file, or Places365's categories_places365.txt)");
  app.add_option("--output", output,
                 "the list file to write; the class map goes next to it, "
                 "with the extension .classes (with --rec-index: the .idx, "
                 "by default FILE.idx beside the .rec)");
  app.add_option("--rec-index", rec_index,
                 "instead of a list: write the .idx of this RecordIO file (key<TAB>offset "
                 "lines, keys 0, 1, ...), from a scan of it")
      ->excludes(app.get_option("--root"))
      ->excludes(app.get_option("--labels"))
      ->excludes(app.get_option("--class-map"));
  return crunet::tools::run_tool(app, argc, argv, [&] {
    using namespace crunet;
    if (!rec_index.empty()) return write_rec_index(rec_index, output);
    if (root.empty() || output.empty()) {
      throw UserError("--root and --output are required (or --rec-index FILE.rec)");
    }
    const std::string map_file = class_map_path(output);
    tools::refuse_output_over_input("--output", output,
                                    {{"--labels", labels}, {"--class-map", class_map}});
    tools::refuse_output_over_input("the class map", map_file, {{"--labels", labels}});
    const std::vector<std::string> names =
        class_map.empty() ? std::vector<std::string>{} : data::read_class_map(class_map);
    std::vector<std::string> paths;
    std::vector<std::int64_t> label_of;
    std::vector<std::string> classes;
    if (labels.empty()) {
      const data::ImageFolderDataset folder(root, 3, names);
      for (std::int64_t i = 0; i < folder.size(); ++i) {
        paths.push_back(fs::path(folder.path(i)).lexically_relative(root).string());
        label_of.push_back(folder.label(i));
      }
      classes = folder.class_names();
    } else {
      const data::PathLabelDataset file(labels, root, 3, 0, names);
      for (std::int64_t i = 0; i < file.size(); ++i) {
        paths.push_back(fs::path(file.path(i)).lexically_relative(root).string());
        label_of.push_back(file.label(i));
      }
      classes = file.class_names();
      // Integer labels and no names: the classes are 0 .. largest, named by their index.
      for (std::int64_t c = static_cast<std::int64_t>(classes.size()); c < file.classes(); ++c) {
        classes.push_back(std::to_string(c));
      }
    }
    std::ofstream out(output);
    for (std::size_t i = 0; i < paths.size(); ++i) {
      out << i << '\t' << label_of[i] << '\t' << paths[i] << '\n';
    }
    out.close();
    if (!out) throw UserError(output + ": cannot write the list file");
    data::write_class_map(map_file, classes);
    std::printf("%s: %zu images of %zu classes (paths relative to %s); class map %s\n",
                output.c_str(), paths.size(), classes.size(), root.c_str(), map_file.c_str());
    return 0;
  });
}
