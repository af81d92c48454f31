// From a DataConfig to datasets, transforms and loader options.
#include "crunet/data/config.h"

#include <algorithm>
#include <filesystem>

namespace crunet::data {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> default_sources(const std::string& format, bool train) {
  if (format == "image_folder") return {train ? "train" : "val"};
  if (format == "list") return {train ? "train.lst" : "val.lst"};
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

std::shared_ptr<Dataset> open_dataset(const DataConfig& config, bool train) {
  const std::vector<std::string>& given = train ? config.train : config.val;
  const std::vector<std::string> sources =
      given.empty() ? default_sources(config.format, train) : given;
  const std::string& root = config.root;
  if (config.format == "image_folder") {
    std::vector<std::string> classes;
    if (!train) {
      const std::vector<std::string>& train_given = config.train;
      classes = class_folders(resolve(
          root, train_given.empty() ? default_sources(config.format, true)[0] : train_given[0]));
    }
    return std::make_shared<ImageFolderDataset>(resolve(root, sources[0]), config.channels,
                                                classes);
  }
  if (config.format == "list") {
    std::error_code error;
    if (!fs::is_directory(root, error)) throw UserError(root + ": no such directory");
    return std::make_shared<ListFileDataset>(resolve(root, sources[0]), root, config.channels,
                                             config.classes);
  }
  if (config.format == "idx") {
    if (sources.size() == 2) {
      return load_idx(resolve(root, sources[0]), resolve(root, sources[1]), config.classes);
    }
    return load_idx_split(root, sources[0], config.classes);
  }
  if (config.format == "cifar10" || config.format == "cifar100") {
    std::error_code error;
    if (!fs::is_directory(root, error)) throw UserError(root + ": no such directory");
    std::vector<std::string> files;
    for (const std::string& source : sources) files.push_back(resolve(root, source));
    const CifarLabels labels = config.format == "cifar10"           ? CifarLabels::Cifar10
                               : config.cifar100_labels == "coarse" ? CifarLabels::Cifar100Coarse
                                                                    : CifarLabels::Cifar100Fine;
    return load_cifar(files, labels);
  }
  throw UserError("unknown data format '" + config.format +
                  "' (one of: image_folder, list, idx, cifar10, cifar100)");
}

}  // namespace

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
