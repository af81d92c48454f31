// Data as it comes, through the programs: crunet-make-list on a class-folder tree and on a flat
// folder with a label file, and the bad inputs that must stop a run with exit status 2 naming the
// file (a malformed list line, a class count that disagrees with the model's).
#include <filesystem>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "e2e_util.h"

namespace crunet::e2e {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void save_image(const std::string& path, int seed) {
  fs::create_directories(fs::path(path).parent_path());
  data::Image image{12, 16, 3, std::vector<std::uint8_t>(12 * 16 * 3)};
  Generator noise(static_cast<std::uint64_t>(seed));
  for (auto& p : image.pixels) p = static_cast<std::uint8_t>(noise.below(256));
  data::write_image(path, image);
}

// A tiny RGB model with `classes` outputs on data that `data` describes (a YAML block).
std::string tiny_config(const std::string& folder, int classes, const std::string& data) {
  return "model:\n  name: tiny_rgb\n  input: {channels: 3, size: 16}\n  classes: " +
         std::to_string(classes) +
         "\n  stem: {type: small, width: 8, stride: 1}\n  stages:\n"
         "    - {unit: res, units: 1, width: 16, bottleneck: 8, groups: 2, stride: 2}\n"
         "data:\n" + data +
         "  batch_size: 4\n  workers: 1\n  augment: {crop: none, size: 16}\n"
         "  eval: {resize: 16, size: 16}\n"
         "train: {epochs: 1, threads: 1}\noutput: {dir: " + folder + "/run}\n";
}

TEST(MakeList, ClassFoldersGiveAListAndItsClassMap) {
  if (!data::image_files_supported()) GTEST_SKIP() << "this build has no OpenCV to write images";
  const std::string folder = fresh_folder("make_list_tree");
  for (const char* path : {"train/n02/b.JPEG", "train/n01/a.JPEG", "train/n01/c.JPEG", "train/n03/sub/d.JPEG"}) {
    save_image(folder + "/" + path, static_cast<int>(std::string(path).size()));
  }
  const RunResult run = run_tool("crunet-make-list", {"--root", folder + "/train", "--output",
                                                      folder + "/train.lst"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "4 images of 3 classes")) << run.output;
  EXPECT_EQ(read_file(folder + "/train.lst"),
            "0\t0\tn01/a.JPEG\n1\t0\tn01/c.JPEG\n2\t1\tn02/b.JPEG\n3\t2\tn03/sub/d.JPEG\n");
  EXPECT_EQ(read_file(folder + "/train.classes"), "n01 0\nn02 1\nn03 2\n");

  // A flat validation folder whose label file names the classes: the training map resolves them.
  save_image(folder + "/val/ILSVRC2012_val_00000001.JPEG", 7);
  save_image(folder + "/val/ILSVRC2012_val_00000002.JPEG", 8);
  write_file(folder + "/val_labels.txt",
             "ILSVRC2012_val_00000001.JPEG n03\nILSVRC2012_val_00000002.JPEG n01\n");
  const RunResult val = run_tool("crunet-make-list", {"--root", folder + "/val", "--labels",
                                                      folder + "/val_labels.txt", "--class-map",
                                                      folder + "/train.classes", "--output",
                                                      folder + "/val.lst"});
  ASSERT_EQ(val.status, 0) << val.output;
  EXPECT_EQ(read_file(folder + "/val.lst"),
            "0\t2\tILSVRC2012_val_00000001.JPEG\n1\t0\tILSVRC2012_val_00000002.JPEG\n");
  EXPECT_EQ(read_file(folder + "/val.classes"), "n01 0\nn02 1\nn03 2\n");

  // Both lists read as a data set of the training classes.
  data::DataConfig config;
  config.format = "list";
  config.root = folder;
  config.train = {"train.lst", "train"};
  config.val = {"val.lst", "val"};
  config.class_map = "train.classes";
  EXPECT_EQ(data::make_dataset(config, "train")->classes(), 3);
  const auto set = data::make_dataset(config, "val");
  EXPECT_EQ(set->get(0).label, 2);
  EXPECT_EQ(set->sample_name(1), folder + "/val/ILSVRC2012_val_00000002.JPEG");
}

TEST(MakeList, BadInputExitsWithStatus2NamingFileAndLine) {
  const std::string folder = fresh_folder("make_list_bad");
  fs::create_directories(folder + "/val");
  write_file(folder + "/labels.txt", "a.jpg 0\nb.jpg\n");
  RunResult run = run_tool("crunet-make-list", {"--root", folder + "/val", "--labels",
                                                folder + "/labels.txt", "--output", folder + "/x.lst"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, folder + "/labels.txt:2: expected 'path label'")) << run.output;
  write_file(folder + "/labels.txt", "a.jpg abbey\n");
  run = run_tool("crunet-make-list", {"--root", folder + "/val", "--labels", folder + "/labels.txt",
                                      "--output", folder + "/x.lst"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "labels.txt:1: the label 'abbey' is not a class index")) << run.output;
  run = run_tool("crunet-make-list", {"--root", folder + "/nowhere", "--output", folder + "/x.lst"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, folder + "/nowhere: no such directory")) << run.output;
  EXPECT_FALSE(fs::exists(folder + "/x.lst"));
}

TEST(MakeList, RecIndexWritesTheIdxThatMxnetWrote) {
  // tests/fixtures/mxnet/small.rec and .idx were written by MXNet itself: the scan finds the
  // same offsets, and the keys are the ordinals as in MXNet's file.
  const std::string folder = fresh_folder("make_list_rec_index");
  const std::string fixtures = std::string(CRUNET_FIXTURE_DIR) + "/mxnet/";
  fs::copy_file(fixtures + "small.rec", folder + "/small.rec");
  RunResult run = run_tool("crunet-make-list", {"--rec-index", folder + "/small.rec"});
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "5 records")) << run.output;
  EXPECT_EQ(read_file(folder + "/small.idx"), read_file(fixtures + "small.idx"));
  run = run_tool("crunet-make-list",
                 {"--rec-index", folder + "/small.rec", "--output", folder + "/other.idx"});
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(read_file(folder + "/other.idx"), read_file(fixtures + "small.idx"));

  write_file(folder + "/notes.rec", "not a record file\n");
  run = run_tool("crunet-make-list", {"--rec-index", folder + "/notes.rec"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, folder + "/notes.rec: not a RecordIO file")) << run.output;
  EXPECT_FALSE(fs::exists(folder + "/notes.idx"));
  run = run_tool("crunet-make-list", {"--output", folder + "/x.lst"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "--root and --output are required")) << run.output;
}

TEST(MakeList, AnOutputThatIsOneOfTheInputsIsRefusedAndTheInputKept) {
  // The write would destroy the input: a .rec (given as its own --output, or named x.idx so that
  // its default index is itself), a label file.
  const std::string folder = fresh_folder("make_list_overwrite");
  const std::string fixtures = std::string(CRUNET_FIXTURE_DIR) + "/mxnet/";
  fs::copy_file(fixtures + "small.rec", folder + "/small.rec");
  const std::string records = read_file(folder + "/small.rec");
  RunResult run = run_tool("crunet-make-list", {"--rec-index", folder + "/small.rec", "--output",
                                                folder + "/small.rec"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "--output " + folder + "/small.rec is the file of --rec-index"))
      << run.output;
  EXPECT_EQ(read_file(folder + "/small.rec"), records);
  fs::copy_file(fixtures + "small.rec", folder + "/records.idx");
  run = run_tool("crunet-make-list", {"--rec-index", folder + "/records.idx"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "the index " + folder + "/records.idx is the file of"))
      << run.output;
  EXPECT_EQ(read_file(folder + "/records.idx"), records);

  fs::create_directories(folder + "/val");
  write_file(folder + "/labels.txt", "a.jpg 0\n");
  run = run_tool("crunet-make-list", {"--root", folder + "/val", "--labels", folder + "/labels.txt",
                                      "--output", folder + "/labels.txt"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "is the file of --labels")) << run.output;
  EXPECT_EQ(read_file(folder + "/labels.txt"), "a.jpg 0\n");
  // Its class map would go to labels.classes: the label file's name too.
  write_file(folder + "/labels.classes", "a.jpg 0\n");
  run = run_tool("crunet-make-list",
                 {"--root", folder + "/val", "--labels", folder + "/labels.classes", "--output",
                  folder + "/labels.lst"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "the class map " + folder + "/labels.classes is the file of"))
      << run.output;
  EXPECT_FALSE(fs::exists(folder + "/labels.lst"));
}

TEST(DataErrors, AnUnreadableListLineStopsTrainingWithStatus2) {
  const std::string folder = fresh_folder("bad_list_line");
  write_file(folder + "/train.lst", "0\t1\ta.png\n1 0 b.png\n");
  write_file(folder + "/val.lst", "0\t1\ta.png\n");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_config(folder, 2, "  format: list\n  root: " + folder + "\n"));
  const RunResult run = run_tool("crunet-train", {"--config", config});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, folder + "/train.lst:2: expected 'index<TAB>label<TAB>path'"))
      << run.output;
}

TEST(DataErrors, AClassCountThatDisagreesWithTheModelStopsWithStatus2) {
  const std::string folder = fresh_folder("class_count");
  fs::create_directories(folder + "/data_256");
  fs::create_directories(folder + "/val_256");
  write_file(folder + "/categories.txt", "/a/abbey 0\n/a/airfield 1\n/b/bar 2\n");
  write_file(folder + "/train.txt", "/a/abbey/1.jpg 0\n/b/bar/2.jpg 2\n");
  write_file(folder + "/val.txt", "Places365_val_00000001.jpg 1\n");
  const std::string data = "  format: path_label\n  root: " + folder +
                           "\n  class_map: categories.txt\n  train: [train.txt, data_256]\n"
                           "  val: [val.txt, val_256]\n";
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_config(folder, 5, data));
  const RunResult run = run_tool("crunet-train", {"--config", config});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, config + ": model.classes is 5 but label file " + folder +
                                       "/train.txt"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "has 3 classes")) << run.output;
}

}  // namespace
}  // namespace crunet::e2e
