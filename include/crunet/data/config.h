#pragma once
// The `data` section of a training config, and the datasets, transforms and loader options it
// describes. Every key is documented in docs/data.md.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crunet/data/dataset.h"
#include "crunet/data/loader.h"
#include "crunet/data/transforms.h"

namespace crunet::data {

struct DataConfig {
  std::string origin;                   // "file:line: data.root", to prefix errors about paths
  std::string format = "image_folder";  // image_folder | list | idx | cifar10 | cifar100
  std::string root;                     // required
  // What each split reads, relative to root (or absolute); empty: the format's default
  // (image_folder: train / val; list: train.lst / val.lst; idx: the prefixes train / t10k;
  // cifar10: data_batch_1.bin .. data_batch_5.bin / test_batch.bin; cifar100: train.bin /
  // test.bin).
  std::vector<std::string> train;
  std::vector<std::string> val;
  std::int64_t classes = 0;              // 0: what the dataset says; else checked against it
  std::int64_t channels = 3;             // 1 (gray) or 3 (RGB); idx defaults to 1
  std::string cifar100_labels = "fine";  // fine | coarse

  // Use only the first N samples of a split (0: all): smoke tests and quick experiments.
  std::int64_t train_limit = 0;
  std::int64_t val_limit = 0;

  std::int64_t batch_size = 32;      // per rank
  std::int64_t eval_batch_size = 0;  // 0: batch_size
  int workers = 2;
  int prefetch_batches = 4;
  double max_bad_fraction = 0.01;
  bool pin_memory = true;

  Normalization normalize;  // default mean [124, 117, 104] (gray: [118]), scale 0.0167
  TrainTransformParams augment;
  EvalTransformParams eval;
};

// The `data` section of a YAML file (a whole training config, or one with only `data:`), with the
// trainer's checks: unknown keys and values out of range are UserErrors naming file, line and key.
DataConfig load_data_config(const std::string& path);

// Every key the `data` section accepts, as paths relative to it ("batch_size", "augment.hsl.hue"),
// the nested maps included ("augment", "augment.hsl"): the parser's own lists.
std::vector<std::string> config_keys();

// split: "train" or "val".
std::shared_ptr<Dataset> make_dataset(const DataConfig& config, const std::string& split);
// train: the augmentation (TrainTransform); else the evaluation crop (EvalTransform).
std::shared_ptr<Transform> make_transform(const DataConfig& config, bool train);
// The evaluation transform, for its ten_crop().
std::shared_ptr<EvalTransform> make_eval_transform(const DataConfig& config);
// The ten crops of an image under the config's evaluation settings (see EvalTransform::ten_crop).
std::vector<Tensor> ten_crop(const Image& image, const DataConfig& config);
// Loader options for training (shuffle, drop_last, batch_size) or evaluation (index order, every
// sample once, eval_batch_size).
LoaderOptions make_loader_options(const DataConfig& config, bool train, std::uint64_t seed,
                                  int rank = 0, int world_size = 1);

}  // namespace crunet::data
