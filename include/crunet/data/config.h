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
  // image_folder | list | path_label | recordio | idx | cifar10 | cifar100
  std::string format = "image_folder";
  // The format of one split when it differs (ImageNet: an image-folder train split and a flat
  // validation folder with a label file); empty: `format`.
  std::string train_format;
  std::string val_format;
  std::string root;                     // required
  // What each split reads, relative to root (or absolute); empty: the format's default
  // (image_folder: train / val; list: train.lst / val.lst; path_label: train.txt / val.txt;
  // recordio: train.rec / val.rec, each with the .idx of the same name (scanned for when it is
  // missing), or a [rec, idx] pair;
  // idx: the prefixes train / t10k; cifar10: data_batch_1.bin .. data_batch_5.bin /
  // test_batch.bin; cifar100: train.bin / test.bin). list and path_label also take a pair
  // [list file, image folder]; the image folder defaults to root.
  std::vector<std::string> train;
  std::vector<std::string> val;
  // A class map (crunet/data/class_map.h), relative to root: the class names and their number for
  // image folders, list and label files; empty: none.
  std::string class_map;
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

// The format of a split: train_format / val_format, or format.
const std::string& split_format(const DataConfig& config, bool train);

// split: "train" or "val".
std::shared_ptr<Dataset> make_dataset(const DataConfig& config, const std::string& split);
// Checks that a dataset fits a model with `model_classes` outputs, else a UserError starting with
// `config_path` that names both numbers and the dataset (its file or folder): a dataset with more
// classes than the model, or one whose classes are named (image folders, a class map, a label
// file with names) and whose count differs from the model's. A count taken from the largest label
// that is below the model's is only warned about (a subset of the classes).
void check_model_classes(const Dataset& dataset, std::int64_t model_classes,
                         const std::string& config_path);

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
