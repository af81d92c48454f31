// The `data` section: defaults, every key, unknown keys, ranges, and what make_* build from it.
#include <gtest/gtest.h>

#include <filesystem>

#include "crunet/data.h"
#include "data_test_util.h"

namespace crunet::data {
namespace {

using testing::TempDir;

// The tests' config file: "run.yaml" in a temporary folder.
const std::string& config_file() {
  static const TempDir dir;
  static const std::string path = dir / "run.yaml";
  return path;
}

DataConfig parse(const std::string& yaml) {
  testing::write_text(config_file(), yaml);
  return load_data_config(config_file());
}

std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(DataConfig, DefaultsAreThePapers) {
  const DataConfig c = parse("data:\n  root: /data/imagenet\n");
  EXPECT_EQ(c.format, "image_folder");
  EXPECT_EQ(c.root, "/data/imagenet");
  EXPECT_EQ(c.origin, config_file() + ":2: data.root");
  EXPECT_TRUE(c.train.empty());
  EXPECT_EQ(c.channels, 3);
  EXPECT_EQ(c.batch_size, 32);
  EXPECT_EQ(c.workers, 2);
  EXPECT_EQ(c.prefetch_batches, 4);
  EXPECT_DOUBLE_EQ(c.max_bad_fraction, 0.01);
  EXPECT_EQ(c.normalize.mean, (std::vector<float>{124, 117, 104}));
  EXPECT_EQ(c.normalize.scale, (std::vector<float>{0.0167f}));
  EXPECT_EQ(c.augment.crop, TrainCrop::RandomArea);
  EXPECT_DOUBLE_EQ(c.augment.area.min_area, 0.08);
  EXPECT_DOUBLE_EQ(c.augment.area.max_area, 1.0);
  EXPECT_DOUBLE_EQ(c.augment.area.min_aspect, 0.75);
  EXPECT_DOUBLE_EQ(c.augment.area.max_aspect, 4.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.augment.flip, 0.5);
  EXPECT_EQ(c.augment.hsl.hue, 20);
  EXPECT_EQ(c.augment.hsl.saturation, 40);
  EXPECT_EQ(c.augment.hsl.lightness, 50);
  EXPECT_EQ(c.augment.size, 224);
  EXPECT_EQ(c.eval.resize, 256);
  EXPECT_EQ(c.eval.size, 224);
  // IDX is gray; the default mean becomes the luma of the RGB one.
  const DataConfig idx = parse("data: {format: idx, root: /x}\n");
  EXPECT_EQ(idx.channels, 1);
  EXPECT_EQ(idx.normalize.mean, (std::vector<float>{118}));
}

TEST(DataConfig, EveryKey) {
  const DataConfig c = parse(R"(
data:
  format: cifar100
  root: /data/cifar-100-binary
  train: [train.bin]
  val: test.bin
  classes: 100
  channels: 3
  cifar100_labels: coarse
  batch_size: 128
  eval_batch_size: 200
  workers: 3
  prefetch_batches: 6
  max_bad_fraction: 0.05
  pin_memory: false
  normalize: {mean: [129.3, 124.1, 112.4], scale: [0.0146, 0.0151, 0.0142]}
  augment:
    crop: pad_random
    area: [0.2, 0.9]
    aspect: [0.5, 2]
    attempts: 3
    pad: 4
    fill: 128
    flip: false
    hsl: false
    size: 32
    interpolation: area
  eval: {resize: 0, size: 32, interpolation: cubic}
)");
  EXPECT_EQ(c.format, "cifar100");
  EXPECT_EQ(c.train, (std::vector<std::string>{"train.bin"}));
  EXPECT_EQ(c.val, (std::vector<std::string>{"test.bin"}));
  EXPECT_EQ(c.classes, 100);
  EXPECT_EQ(c.cifar100_labels, "coarse");
  EXPECT_EQ(c.batch_size, 128);
  EXPECT_EQ(c.eval_batch_size, 200);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.prefetch_batches, 6);
  EXPECT_DOUBLE_EQ(c.max_bad_fraction, 0.05);
  EXPECT_FALSE(c.pin_memory);
  EXPECT_EQ(c.normalize.mean, (std::vector<float>{129.3f, 124.1f, 112.4f}));
  EXPECT_EQ(c.normalize.scale.size(), 3u);
  EXPECT_EQ(c.augment.crop, TrainCrop::PadRandom);
  EXPECT_DOUBLE_EQ(c.augment.area.min_area, 0.2);
  EXPECT_DOUBLE_EQ(c.augment.area.max_aspect, 2.0);
  EXPECT_EQ(c.augment.area.attempts, 3);
  EXPECT_EQ(c.augment.pad, 4);
  EXPECT_EQ(c.augment.fill, 128);
  EXPECT_DOUBLE_EQ(c.augment.flip, 0.0);
  EXPECT_FALSE(c.augment.hsl.enabled());
  EXPECT_EQ(c.augment.size, 32);
  EXPECT_EQ(c.augment.interpolation, Interpolation::Area);
  EXPECT_EQ(c.eval.resize, 0);
  EXPECT_EQ(c.eval.size, 32);
  EXPECT_EQ(c.eval.interpolation, Interpolation::Cubic);
  const DataConfig d = parse("data:\n  root: /r\n  augment: {flip: 0.25, hsl: {hue: 10}}\n");
  EXPECT_DOUBLE_EQ(d.augment.flip, 0.25);
  EXPECT_EQ(d.augment.hsl.hue, 10);
  EXPECT_EQ(d.augment.hsl.saturation, 40);
}

TEST(DataConfig, MistakesNameFileLineAndKey) {
  const struct {
    std::string yaml;
    std::string message;
  } cases[] = {
      {"data:\n  root: /r\n  wokers: 2\n",
       "run.yaml:3: data.wokers: unknown key 'wokers'; did you mean 'workers'?"},
      {"data:\n  format: imagefolder\n  root: /r\n",
       "run.yaml:2: data.format: unknown value 'imagefolder'"},
      {"data:\n  format: idx\n", "data.root: missing required key 'root'"},
      {"data:\n  root: /r\n  channels: 2\n", "run.yaml:3: data.channels: must be 1 or 3"},
      {"data:\n  root: /r\n  workers: -1\n",
       "run.yaml:3: data.workers: must be an integer in [0, 256]"},
      {"data:\n  root: /r\n  batch_size: 0\n", "data.batch_size: must be an integer in [1,"},
      {"data:\n  root: /r\n  max_bad_fraction: 1.5\n",
       "data.max_bad_fraction: must be a number in [0"},
      {"data:\n  root: /r\n  normalize: {mean: [1, 2]}\n",
       "data.normalize.mean: needs 1 value or one per channel (3), got 2"},
      {"data:\n  root: /r\n  normalize: {scale: 0}\n", "data.normalize.scale: must not be 0"},
      {"data:\n  root: /r\n  normalize: {mean: abc}\n",
       "data.normalize.mean: must be a number or a list of numbers"},
      {"data:\n  root: /r\n  augment: {area: [0, 1]}\n",
       "data.augment.area: must be a list [min, max]"},
      {"data:\n  root: /r\n  augment: {area: [0.5, 0.2]}\n",
       "data.augment.area: must be a list [min, max]"},
      {"data:\n  root: /r\n  augment: {aspect: [1.5]}\n",
       "data.augment.aspect: must be a list [min, max]"},
      {"data:\n  root: /r\n  augment: {flip: 2}\n", "data.augment.flip: must be a number in [0"},
      {"data:\n  root: /r\n  augment: {hsl: {hue: 200}}\n",
       "data.augment.hsl.hue: must be an integer in [0, 180]"},
      {"data:\n  root: /r\n  augment: {hsl: {hue: 10, sat: 3}}\n",
       "data.augment.hsl.sat: unknown key 'sat'"},
      {"data:\n  root: /r\n  augment: {crop: random}\n",
       "data.augment.crop: unknown value 'random'"},
      {"data:\n  root: /r\n  augment: {fill: 300}\n",
       "data.augment.fill: must be an integer in [0, 255]"},
      {"data:\n  root: /r\n  augment: {interpolation: bilinear}\n",
       "data.augment.interpolation: unknown value 'bilinear'"},
      {"data:\n  root: /r\n  eval: {resize: 200, size: 224}\n",
       "data.eval.size: the centre crop 224 is larger than the resized short side 200"},
      {"data:\n  root: /r\n  eval: {crop: 224}\n", "data.eval.crop: unknown key 'crop'"},
      {"data:\n  root: /r\n  train: [a, b]\n",
       "data.train: format image_folder takes one path, not 2"},
      {"data:\n  root: /r\n  cifar100_labels: both\n",
       "data.cifar100_labels: unknown value 'both'"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of(c.yaml);
    std::string want = c.message;
    if (want.rfind("run.yaml", 0) == 0) want = config_file() + want.substr(8);
    EXPECT_NE(message.find(want), std::string::npos) << c.yaml << "\n-> " << message;
  }
}

TEST(DataConfig, MakeDatasetReportsMissingFilesWithTheConfigLine) {
  TempDir dir;
  DataConfig c = parse("data:\n  root: " + (dir / "nowhere") + "\n");
  try {
    make_dataset(c, "train");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(config_file() + ":2: data.root: image folder " +
                                         (dir / "nowhere") + "/train: no such directory"),
              std::string::npos)
        << e.what();
  }
  c.format = "idx";
  EXPECT_THROW(make_dataset(c, "val"), UserError);
  c.format = "list";
  EXPECT_THROW(make_dataset(c, "train"), UserError);
  c.format = "cifar10";
  EXPECT_THROW(make_dataset(c, "train"), UserError);
  EXPECT_THROW(make_dataset(c, "test"), ValueError);
}

TEST(DataConfig, ValidationImageFolderTakesTheTrainingClasses) {
  if (!image_files_supported()) GTEST_SKIP() << "built without OpenCV";
  TempDir dir;
  for (const char* path : {"train/ant/1.png", "train/bee/2.png", "train/cat/3.png", "val/bee/4.png",
                           "val/cat/5.png"}) {
    testing::save(dir / path, make_image(4, 4, 3));
  }
  const DataConfig c = parse("data:\n  root: " + dir.path() + "\n  classes: 3\n");
  const auto val = make_dataset(c, "val");
  EXPECT_EQ(val->classes(), 3);
  EXPECT_EQ(val->get(0).label, 1);  // bee, as in the training folder
  EXPECT_EQ(make_dataset(c, "train")->size(), 3);
  const DataConfig wrong = parse("data:\n  root: " + dir.path() + "\n  classes: 4\n");
  EXPECT_THROW(make_dataset(wrong, "train"), UserError);
}

// The main job's shape: Fashion-MNIST at 28x28 with pad + crop and flip, no HSL.
TEST(DataConfig, FashionMnistPipeline) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const DataConfig c = parse(R"(
data:
  format: idx
  root: /usr/share/datasets/fashion-mnist
  classes: 10
  batch_size: 64
  workers: 2
  normalize: {mean: 72.94, scale: 0.0111}
  augment: {crop: pad_random, pad: 2, size: 28, flip: true, hsl: false}
  eval: {resize: 0, size: 28}
)");
  const auto val = make_dataset(c, "val");
  EXPECT_EQ(val->size(), 10000);
  EXPECT_EQ(val->classes(), 10);
  DataLoader train_loader(val, make_transform(c, true), make_loader_options(c, true, 1));
  EXPECT_EQ(train_loader.batches_per_epoch(), 10000 / 64);
  train_loader.start_epoch(0);
  Batch batch;
  ASSERT_TRUE(train_loader.next(batch));
  EXPECT_EQ(batch.images.shape(), (Shape{64, 1, 28, 28}));
  EXPECT_EQ(batch.labels.shape(), (Shape{64}));
  DataLoader eval_loader(val, make_transform(c, false), make_loader_options(c, false, 1, 1, 2));
  EXPECT_EQ(eval_loader.samples_per_epoch(), 5000);
  eval_loader.start_epoch(0);
  ASSERT_TRUE(eval_loader.next(batch));
  EXPECT_EQ(batch.indices[1], 3);  // rank 1 of 2: samples 1, 3, 5, ...
  // The evaluation tensor is the normalised image itself.
  const std::vector<float> first = batch.images.to_vector();
  const Image image = val->get(1).image;
  for (int i = 0; i < 28 * 28; i += 97) {
    EXPECT_FLOAT_EQ(first[static_cast<std::size_t>(i)],
                    (image.pixels[static_cast<std::size_t>(i)] - 72.94f) * 0.0111f);
  }
  EXPECT_EQ(ten_crop(image, c).size(), 10u);
}

TEST(DataConfig, LoaderOptionsForTrainingAndEvaluation) {
  const DataConfig c =
      parse("data:\n  root: /r\n  batch_size: 16\n  eval_batch_size: 50\n  workers: 5\n");
  const LoaderOptions train = make_loader_options(c, true, 9, 1, 4);
  EXPECT_EQ(train.batch_size, 16);
  EXPECT_TRUE(train.shuffle);
  EXPECT_TRUE(train.drop_last);
  EXPECT_EQ(train.workers, 5);
  EXPECT_EQ(train.seed, 9u);
  EXPECT_EQ(train.rank, 1);
  EXPECT_EQ(train.world_size, 4);
  const LoaderOptions eval = make_loader_options(c, false, 9);
  EXPECT_EQ(eval.batch_size, 50);
  EXPECT_FALSE(eval.shuffle);
  EXPECT_FALSE(eval.drop_last);
}

}  // namespace
}  // namespace crunet::data
