// From a DataConfig to datasets, transforms and loader options.
#include "crunet/data/config.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "crunet/data/class_map.h"
#include "crunet/data/recordio.h"

namespace crunet::data {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> default_sources(const std::string& format, bool train) {
  if (format == "image_folder") return {train ? "train" : "val"};
  if (format == "list") return {train ? "train.lst" : "val.lst"};
  if (format == "path_label") return {train ? "train.txt" : "val.txt"};
  if (format == "recordio") return {train ? "train.rec" : "val.rec"};
  if (format == "idx") return {train ? "train" : "t10k"};
  if (format == "cifar10") {
    if (!train) return {"test_batch.bin"};
    return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
            "data_batch_5.bin"};
  }
  if (format == "cifar100") return {train ? "train.bin" : "test.bin"};
  throw UserError("unknown data format '" + format + "'");
}

std::string resolve(const std::string& root, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return (fs::path(root) / path).string();
}

// The class folders of a training image folder, so that the validation folder uses the same
// labels; empty when there is no such folder.
std::vector<std::string> class_folders(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code error;
  if (!fs::is_directory(folder, error)) return names;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(error) && !name.empty() && name[0] != '.') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The class names a split's labels refer to: the class map when there is one; for the validation
// split, the class folders of an image-folder training split (so that a class missing from the
// validation set cannot shift the labels, and a label file can name its classes by folder name);
// else none.
std::vector<std::string> known_class_names(const DataConfig& config, bool train) {
  if (!config.class_map.empty()) return read_class_map(resolve(config.root, config.class_map));
  if (train || split_format(config, true) != "image_folder") return {};
  const std::vector<std::string>& given = config.train;
  return class_folders(resolve(config.root, given.empty() ? "train" : given[0]));
}

std::shared_ptr<Dataset> open_dataset(const DataConfig& config, bool train) {
  const std::string& format = split_format(config, train);
  const std::vector<std::string>& given = train ? config.train : config.val;
  const std::vector<std::string> sources = given.empty() ? default_sources(format, train) : given;
  const std::string& root = config.root;
  if (format == "image_folder") {
    return std::make_shared<ImageFolderDataset>(resolve(root, sources[0]), config.channels,
                                                known_class_names(config, train));
  }
  if (format == "list" || format == "path_label") {
    std::error_code error;
    if (!fs::is_directory(root, error)) throw UserError(root + ": no such directory");
    const std::string images = sources.size() == 2 ? resolve(root, sources[1]) : root;
    if (format == "list") {
      return std::make_shared<ListFileDataset>(resolve(root, sources[0]), images, config.channels,
                                               config.classes,
                                               config.class_map.empty()
                                                   ? std::vector<std::string>{}
                                                   : known_class_names(config, train));
    }
    return std::make_shared<PathLabelDataset>(resolve(root, sources[0]), images, config.channels,
                                              config.classes, known_class_names(config, train));
  }
  if (format == "recordio") {
    const std::string rec = resolve(root, sources[0]);
    const std::string idx = sources.size() == 2 ? resolve(root, sources[1])
                                                : fs::path(rec).replace_extension(".idx").string();
    return std::make_shared<RecordIODataset>(rec, idx, config.channels, config.classes);
  }
  if (format == "idx") {
    if (sources.size() == 2) {
      return load_idx(resolve(root, sources[0]), resolve(root, sources[1]), config.classes);
    }
    return load_idx_split(root, sources[0], config.classes);
  }
  if (format == "cifar10" || format == "cifar100") {
    std::error_code error;
    if (!fs::is_directory(root, error)) throw UserError(root + ": no such directory");
    std::vector<std::string> files;
    for (const std::string& source : sources) files.push_back(resolve(root, source));
    const CifarLabels labels = format == "cifar10"                  ? CifarLabels::Cifar10
                               : config.cifar100_labels == "coarse" ? CifarLabels::Cifar100Coarse
                                                                    : CifarLabels::Cifar100Fine;
    return load_cifar(files, labels);
  }
  throw UserError("unknown data format '" + format +
                  "' (one of: image_folder, list, path_label, recordio, idx, cifar10, cifar100)");
}

}  // namespace

const std::string& split_format(const DataConfig& config, bool train) {
  const std::string& own = train ? config.train_format : config.val_format;
  return own.empty() ? config.format : own;
}

void check_model_classes(const Dataset& dataset, std::int64_t model_classes,
                         const std::string& config_path) {
  const std::int64_t classes = dataset.classes();
  const bool named = !dataset.class_names().empty();
  if (classes > model_classes || (named && classes != model_classes)) {
    throw UserError(config_path + ": model.classes is " + std::to_string(model_classes) + " but " +
                    dataset.describe() + " has " + std::to_string(classes) + " classes");
  }
  if (classes < model_classes) {
    spdlog::warn("{}: model.classes is {} but the labels of {} go up to {} only", config_path,
                 model_classes, dataset.describe(), classes - 1);
  }
}

std::shared_ptr<Dataset> make_dataset(const DataConfig& config, const std::string& split) {
  if (split != "train" && split != "val") {
    throw ValueError("make_dataset: split must be \"train\" or \"val\", not \"" + split + "\"");
  }
  const std::string prefix = config.origin.empty() ? std::string() : config.origin + ": ";
  if (config.root.empty()) throw UserError(prefix + "data.root is not set");
  std::shared_ptr<Dataset> dataset;
  try {
    dataset = open_dataset(config, split == "train");
  } catch (const UserError& e) {
    throw UserError(prefix + e.what());
  }
  if (config.classes > 0 && dataset->classes() != config.classes) {
    throw UserError(prefix + "data.classes is " + std::to_string(config.classes) + " but " +
                    dataset->describe() + " has " + std::to_string(dataset->classes()));
  }
  const std::int64_t limit = split == "train" ? config.train_limit : config.val_limit;
  if (limit > 0 && limit < dataset->size()) dataset = std::make_shared<PrefixDataset>(dataset, limit);
  return dataset;
}

std::shared_ptr<EvalTransform> make_eval_transform(const DataConfig& config) {
  return std::make_shared<EvalTransform>(config.eval, config.normalize, config.channels);
}

std::shared_ptr<Transform> make_transform(const DataConfig& config, bool train) {
  if (train) {
    return std::make_shared<TrainTransform>(config.augment, config.normalize, config.channels);
  }
  return make_eval_transform(config);
}

std::vector<Tensor> ten_crop(const Image& image, const DataConfig& config) {
  return make_eval_transform(config)->ten_crop(image);
}

LoaderOptions make_loader_options(const DataConfig& config, bool train, std::uint64_t seed,
                                  int rank, int world_size) {
  LoaderOptions options;
  options.batch_size =
      train || config.eval_batch_size == 0 ? config.batch_size : config.eval_batch_size;
  options.shuffle = train;
  options.drop_last = train;
  options.workers = config.workers;
  options.prefetch_batches = config.prefetch_batches;
  options.seed = seed;
  options.rank = rank;
  options.world_size = world_size;
  options.max_bad_fraction = config.max_bad_fraction;
  options.pin_memory = config.pin_memory;
  return options;
}

}  // namespace crunet::data
