// Data sets as they come: Places365's nested folder with its list files, ImageNet's class-folder
// training set with a flat validation folder and its label file, class maps, per-split formats,
// and every bad input (a malformed line, an unknown class name, a class count that disagrees).
#include <gtest/gtest.h>

#include "crunet/data.h"
#include "data_test_util.h"

namespace crunet::data {
namespace {

using testing::user_error;
using testing::contains;
using testing::TempDir;
using testing::write_text;

DataConfig parse(const TempDir& dir, const std::string& yaml) {
  write_text(dir / "run.yaml", yaml);
  return load_data_config(dir / "run.yaml");
}

TEST(ClassMap, ReadsNameIndexLinesInAnyOrder) {
  TempDir dir;
  write_text(dir / "categories.txt", "/a/abbey 0\n\n/b/bar 2\r\n/a/airfield\t1\nsea lion 3\n");
  EXPECT_EQ(read_class_map(dir / "categories.txt"),
            (std::vector<std::string>{"/a/abbey", "/a/airfield", "/b/bar", "sea lion"}));
  write_class_map(dir / "out.classes", {"n01", "n02"});
  EXPECT_EQ(read_class_map(dir / "out.classes"), (std::vector<std::string>{"n01", "n02"}));
}

TEST(ClassMap, BadLinesNameFileAndLine) {
  TempDir dir;
  const std::string file = dir / "map.txt";
  const struct {
    std::string text;
    std::string message;
  } cases[] = {
      {"a 0\nb\n", file + ":2: expected 'class-name index'"},
      {"a 0\nb x\n", file + ":2: the class index 'x' is not an integer"},
      {"a 0\nb -1\n", file + ":2: the class index '-1'"},
      {"a 0\nb 0\n", file + ":2: class index 0 is given twice"},
      {"a 0\na 1\n", file + ":2: class name 'a' is given twice (first on line 1)"},
      {"a 0\nb 2\n", file + ": class index 1 is missing"},
      {"\n", file + ": the class map has no classes"},
  };
  for (const auto& c : cases) {
    write_text(file, c.text);
    const std::string message = user_error([&] { read_class_map(file); });
    EXPECT_TRUE(contains(message, c.message)) << c.text << " -> " << message;
  }
  EXPECT_TRUE(contains(user_error([&] { read_class_map(dir / "none.txt"); }), "no such class map"));
}

TEST(PathLabel, ReadsPlaces365ListsWithLeadingSlashes) {
  TempDir dir;
  write_text(dir / "places365_train_standard.txt",
             "/a/abbey/00000000.jpg 0\n\n/a/airfield/00000001.jpg 1\r\n/b/bar/my photo.jpg\t2\n");
  std::filesystem::create_directories(dir / "data_256");
  const PathLabelDataset train(dir / "places365_train_standard.txt", dir / "data_256");
  ASSERT_EQ(train.size(), 3);
  EXPECT_EQ(train.classes(), 3);
  EXPECT_EQ(train.path(0), dir / "data_256/a/abbey/00000000.jpg");
  EXPECT_EQ(train.path(2), dir / "data_256/b/bar/my photo.jpg");  // paths may hold spaces
  EXPECT_EQ(train.label(1), 1);
  EXPECT_EQ(PathLabelDataset(dir / "places365_train_standard.txt", dir / "data_256", 3, 365).classes(),
            365);
  if (image_files_supported()) {
    testing::save(dir / "data_256/a/abbey/00000000.jpg", testing::pattern_image(6, 5, 3));
    EXPECT_EQ(train.get(0).label, 0);
    EXPECT_EQ(train.get(0).image.height, 6);
    EXPECT_THROW(train.get(1), BadSample);  // not there
  }
}

TEST(PathLabel, LabelsMayBeClassNames) {
  TempDir dir;
  std::filesystem::create_directories(dir / "val");
  write_text(dir / "val.txt", "ILSVRC2012_val_00000001.JPEG n02\nILSVRC2012_val_00000002.JPEG 0\n");
  const PathLabelDataset val(dir / "val.txt", dir / "val", 3, 0, {"n01", "n02", "n03"});
  EXPECT_EQ(val.label(0), 1);
  EXPECT_EQ(val.label(1), 0);
  EXPECT_EQ(val.classes(), 3);  // the names', not the largest label + 1
  EXPECT_EQ(val.class_names().size(), 3u);
}

TEST(PathLabel, BadLinesNameFileAndLine) {
  TempDir dir;
  std::filesystem::create_directories(dir / "images");
  const std::string file = dir / "labels.txt";
  const std::string good = "a.jpg 0\nb.jpg 1\n";
  const struct {
    std::string line;
    std::string message;
  } cases[] = {
      {"c.jpg", "expected 'path label'"},
      {"c.jpg cat", "the label 'cat' is not a class index, and no class names are known"},
      {"c.jpg 1.5", "the label '1.5' is not a class index"},
      {"c.jpg -2", "the label -2 is negative"},
      {"c.jpg 123456789", "is too large"},
      {"/// 1", "the path is empty"},
  };
  for (const auto& c : cases) {
    write_text(file, good + c.line + "\n");
    const std::string message = user_error([&] { PathLabelDataset(file, dir / "images"); });
    EXPECT_TRUE(contains(message, file + ":3: ")) << c.line << " -> " << message;
    EXPECT_TRUE(contains(message, c.message)) << c.line << " -> " << message;
  }
  write_text(file, good + "c.jpg n09\n");
  EXPECT_TRUE(contains(user_error([&] { PathLabelDataset(file, dir / "images", 3, 0, {"n01", "n02"}); }),
                       file + ":3: the label 'n09' is neither a class index nor one of the 2 class names"));
  write_text(file, good + "c.jpg 7\n");
  EXPECT_TRUE(contains(user_error([&] { PathLabelDataset(file, dir / "images", 3, 5); }),
                       file + ":3: the label 7 is out of range for 5 classes"));
  write_text(file, "\n");
  EXPECT_TRUE(contains(user_error([&] { PathLabelDataset(file, dir / "images"); }), "has no samples"));
  EXPECT_TRUE(contains(user_error([&] { PathLabelDataset(dir / "none.txt", dir / "images"); }),
                       "no such label file"));
  write_text(file, good);
  EXPECT_TRUE(contains(user_error([&] { PathLabelDataset(file, dir / "nowhere"); }), "no such directory"));
}

TEST(SplitFormats, ImageNetClassFoldersAndAFlatValidationFolderWithNamedLabels) {
  if (!image_files_supported()) GTEST_SKIP() << "built without OpenCV";
  TempDir dir;
  for (const char* path : {"train/n01/a.JPEG", "train/n02/b.JPEG", "train/n03/c.JPEG",
                           "val/ILSVRC2012_val_00000001.JPEG", "val/ILSVRC2012_val_00000002.JPEG"}) {
    testing::save(dir / path, testing::pattern_image(8, 8, 3));
  }
  write_text(dir / "val_labels.txt",
             "ILSVRC2012_val_00000001.JPEG n03\nILSVRC2012_val_00000002.JPEG 1\n");
  const DataConfig c = parse(dir, "data:\n  root: " + dir.path() +
                                      "\n  val_format: path_label\n  val: [val_labels.txt, val]\n");
  EXPECT_EQ(split_format(c, true), "image_folder");
  EXPECT_EQ(split_format(c, false), "path_label");
  const auto train = make_dataset(c, "train");
  const auto val = make_dataset(c, "val");
  EXPECT_EQ(train->classes(), 3);
  EXPECT_EQ(val->classes(), 3);  // the training folder's class names
  EXPECT_EQ(val->get(0).label, 2);
  EXPECT_EQ(val->get(1).label, 1);
  EXPECT_EQ(val->sample_name(0), dir / "val/ILSVRC2012_val_00000001.JPEG");
}

TEST(SplitFormats, Places365ListsAndItsCategoryFile) {
  TempDir dir;
  std::filesystem::create_directories(dir / "data_256");
  std::filesystem::create_directories(dir / "val_256");
  write_text(dir / "categories_places365.txt", "/a/abbey 0\n/a/airfield 1\n/b/bar 2\n");
  write_text(dir / "places365_train_standard.txt", "/a/abbey/00000000.jpg 0\n/b/bar/00000001.jpg 2\n");
  write_text(dir / "places365_val.txt", "Places365_val_00000001.jpg 1\n");
  const DataConfig c = parse(dir, "data:\n  root: " + dir.path() +
                                      "\n  format: path_label\n"
                                      "  class_map: categories_places365.txt\n"
                                      "  train: [places365_train_standard.txt, data_256]\n"
                                      "  val: [places365_val.txt, val_256]\n");
  const auto train = make_dataset(c, "train");
  const auto val = make_dataset(c, "val");
  EXPECT_EQ(train->classes(), 3);
  EXPECT_EQ(val->classes(), 3);
  EXPECT_EQ(train->sample_name(1), dir / "data_256/b/bar/00000001.jpg");
  EXPECT_EQ(val->sample_name(0), dir / "val_256/Places365_val_00000001.jpg");
  // The same category file gives a list file its class count.
  write_text(dir / "val.lst", "0\t1\tval_256/Places365_val_00000001.jpg\n");
  const DataConfig list = parse(dir, "data:\n  root: " + dir.path() +
                                         "\n  format: list\n  class_map: categories_places365.txt\n");
  EXPECT_EQ(make_dataset(list, "val")->classes(), 3);
}

TEST(SplitFormats, ConfigMistakesNameTheKey) {
  TempDir dir;
  EXPECT_TRUE(contains(user_error([&] { parse(dir, "data:\n  root: /r\n  val_format: path_labels\n"); }),
                       "data.val_format: unknown value 'path_labels'"));
  EXPECT_TRUE(contains(
      user_error([&] { parse(dir, "data:\n  root: /r\n  format: path_label\n  train: [a, b, c]\n"); }),
      "format path_label takes a file or a [file, image folder] pair, not 3"));
  EXPECT_TRUE(contains(user_error([&] { parse(dir, "data:\n  root: /r\n  train: [a, b]\n"); }),
                       "format image_folder takes one path, not 2"));
}

TEST(ModelClasses, ACountThatDisagreesNamesBothNumbersAndTheFile) {
  TempDir dir;
  std::filesystem::create_directories(dir / "images");
  write_text(dir / "map.txt", "cat 0\ndog 1\nemu 2\n");
  write_text(dir / "labels.txt", "a.jpg cat\nb.jpg 2\n");
  const PathLabelDataset named(dir / "labels.txt", dir / "images", 3, 0, read_class_map(dir / "map.txt"));
  EXPECT_NO_THROW(check_model_classes(named, 3, "run.yaml"));
  const std::string fewer = user_error([&] { check_model_classes(named, 1000, "run.yaml"); });
  EXPECT_TRUE(contains(fewer, "run.yaml: model.classes is 1000 but label file " + (dir / "labels.txt")))
      << fewer;
  EXPECT_TRUE(contains(fewer, "has 3 classes")) << fewer;
  // Without names, more labels than the model has outputs is an error; fewer only a warning.
  write_text(dir / "numbers.txt", "a.jpg 0\nb.jpg 9\n");
  const PathLabelDataset numbers(dir / "numbers.txt", dir / "images");
  const std::string more = user_error([&] { check_model_classes(numbers, 5, "run.yaml"); });
  EXPECT_TRUE(contains(more, "model.classes is 5 but label file " + (dir / "numbers.txt")));
  EXPECT_TRUE(contains(more, "has 10 classes"));
  EXPECT_NO_THROW(check_model_classes(numbers, 20, "run.yaml"));
}

}  // namespace
}  // namespace crunet::data
