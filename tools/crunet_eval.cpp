// crunet-eval: top-1 / top-5 error of trained weights on the config's validation set, with a single
// centre crop or ten crops (four corners and the centre, and their mirrors; softmax averaged).
// Both go through the threaded loader in batches, in the config's train.precision. An unreadable
// image is left out with a warning and counted. Under mpirun every process evaluates its shard of
// the images (image i on rank i % world_size: every image exactly once, no padding) and the counts
// are summed before dividing.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "crunet/data/config.h"
#include "crunet/data/loader.h"
#include "crunet/data/transforms.h"
#include "crunet/ops/cross_entropy.h"
#include "crunet/train/checkpoint.h"
#include "crunet/train/config.h"
#include "crunet/train/metrics.h"
#include "crunet/train/precision.h"
#include "tool_main.h"

namespace {

using Clock = std::chrono::steady_clock;

// What one process counted, summed over the group before dividing.
struct Counts {
  double loss_sum = 0;
  std::int64_t top1 = 0, top5 = 0, samples = 0, skipped = 0;
};

// K crops of each image ([N, K, C, H, W]): the mean of the softmax over the crops, as float32
// [N, classes] on the CPU; and the loss summed over the images (-log of the label's mean
// probability).
crunet::Tensor mean_softmax(const crunet::Tensor& logits, std::int64_t images, std::int64_t crops,
                            const std::vector<std::int64_t>& labels, double& loss_sum) {
  using namespace crunet;
  const std::vector<float> values = logits.to(Device::cpu()).to(DType::Float32).to_vector();
  const std::int64_t classes = logits.size(1);
  std::vector<float> mean(static_cast<std::size_t>(images * classes), 0.0f);
  std::vector<double> exps(static_cast<std::size_t>(classes));
  for (std::int64_t image = 0; image < images; ++image) {
    float* out = mean.data() + image * classes;
    for (std::int64_t crop = 0; crop < crops; ++crop) {
      const float* row = values.data() + (image * crops + crop) * classes;
      const float peak = *std::max_element(row, row + classes);
      double sum = 0;
      for (std::int64_t c = 0; c < classes; ++c) sum += exps[c] = std::exp(row[c] - peak);
      for (std::int64_t c = 0; c < classes; ++c) {
        out[c] += static_cast<float>(exps[c] / sum / static_cast<double>(crops));
      }
    }
    loss_sum -= std::log(std::max(out[labels[static_cast<std::size_t>(image)]], 1e-12f));
  }
  return from_vector(mean, {images, classes});
}

// The loader's epoch through the model: single-crop batches [N, C, H, W] scored by their logits,
// multi-crop batches [N, K, C, H, W] by the mean softmax of each image's K crops.
Counts evaluate(crunet::models::Network& model, crunet::data::DataLoader& loader,
                const crunet::Device& device, crunet::train::Precision precision) {
  using namespace crunet;
  model.eval();
  NoGradGuard no_grad;
  Counts counts;
  loader.start_epoch(0);
  data::Batch batch;
  while (loader.next(batch)) {
    const Shape shape = batch.images.shape();
    const std::int64_t n = shape[0];
    const bool crops = shape.size() == 5;
    const Tensor input =
        crops ? batch.images.reshape({n * shape[1], shape[2], shape[3], shape[4]}) : batch.images;
    Tensor logits;
    {
      train::PrecisionScope scope(precision);
      logits = model.forward(input.to(device));
    }
    const std::int64_t k = std::min<std::int64_t>(5, logits.size(1));
    if (crops) {
      const Tensor truth = batch.labels.to(Device::cpu());
      const std::vector<std::int64_t> labels(truth.data<std::int64_t>(),
                                             truth.data<std::int64_t>() + n);
      const Tensor scores = mean_softmax(logits, n, shape[1], labels, counts.loss_sum);
      counts.top1 += train::count_top_k(scores, truth, 1);
      counts.top5 += train::count_top_k(scores, truth, k);
    } else {
      const Tensor labels = batch.labels.to(device);
      counts.loss_sum += static_cast<double>(ops::cross_entropy(logits, labels).item()) * n;
      counts.top1 += train::count_top_k(logits, labels, 1);
      counts.top5 += train::count_top_k(logits, labels, k);
    }
    counts.samples += n;
  }
  counts.skipped = static_cast<std::int64_t>(loader.bad_samples().size());
  return counts;
}

Counts sum_over(crunet::dist::ProcessGroup& group, const Counts& mine) {
  std::vector<double> sums{mine.loss_sum, static_cast<double>(mine.top1),
                           static_cast<double>(mine.top5), static_cast<double>(mine.samples),
                           static_cast<double>(mine.skipped)};
  group.all_reduce(sums, crunet::dist::ReduceOp::Sum);
  Counts total;
  total.loss_sum = sums[0];
  total.top1 = std::llround(sums[1]);
  total.top5 = std::llround(sums[2]);
  total.samples = std::llround(sums[3]);
  total.skipped = std::llround(sums[4]);
  return total;
}

// A --json path that cannot be written (no such folder, or a folder itself) failed after the
// evaluation, which may take an hour, with status 1: found before it, as the user's mistake.
void check_json_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    throw crunet::UserError("--json " + path + ": is a folder, not a file");
  }
  const fs::path folder = fs::absolute(path, error).parent_path();
  if (!fs::is_directory(folder, error)) {
    throw crunet::UserError("--json " + path + ": there is no folder " + folder.string() +
                            " to write it in");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate trained weights: top-1 / top-5 error and images per second", "crunet-eval"};
  std::string config_path, weights, json_path;
  std::vector<std::string> overrides;
  bool ten_crop = false;
  std::int64_t batch_size = 0;
  int workers = -1;
  app.add_option("--config", config_path, "training config (YAML)")->required()->check(CLI::ExistingFile);
  app.add_option("--weights", weights, "weights (model.safetensors) or a checkpoint")
      ->required()->check(CLI::ExistingFile);
  app.add_option("--set", overrides, "override a config key: key.path=value (repeatable)");
  app.add_flag("--ten-crop", ten_crop, "average the softmax of ten crops per image");
  app.add_option("--batch-size", batch_size,
                 "images per batch and process (default: data.eval_batch_size, or batch_size; "
                 "with --ten-crop a tenth of it, so that a batch holds as many crops)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  app.add_option("--workers", workers, "decoding threads per process (default: data.workers; 0: "
                                       "decode on the main thread)")
      ->check(CLI::Range(0, 256));
  app.add_option("--json", json_path, "also write the result as JSON to this file");
  std::shared_ptr<crunet::dist::ProcessGroup> group;
  const int status = crunet::tools::run_tool(app, argc, argv, [&] {
    using namespace crunet;
    group = dist::world();
    if (!json_path.empty()) check_json_path(json_path);
    const train::TrainConfig config = train::load_train_config(config_path, overrides);
    train::check_model_channels(config);
    group->set_timeout(config.loop.dist_timeout_s);
    Device device = Device::parse(config.loop.device);
    if (device.is_cuda() && config.loop.device == "cuda" && group->world_size() > 1) {
      device = Device::cuda(group->local_rank());
    }
    if (config.loop.threads > 0) {
      omp_set_num_threads(static_cast<int>(config.loop.threads));
    } else if (group->local_size() > 1 && std::getenv("OMP_NUM_THREADS") == nullptr) {
      omp_set_num_threads(std::max(1, omp_get_num_procs() / group->local_size()));
    }
    // The data first: a wrong label file or class count is found before the weights are read.
    auto dataset = data::make_dataset(config.data, "val");
    data::check_model_classes(*dataset, config.model.classes, config.path);
    auto model = models::build(config.model);
    train::load_model_weights(weights, *model);
    model->to(device);

    data::LoaderOptions options = data::make_loader_options(config.data, false, config.loop.seed,
                                                            group->rank(), group->world_size());
    if (batch_size > 0) {
      options.batch_size = batch_size;
    } else if (ten_crop) {
      options.batch_size = std::max<std::int64_t>(1, options.batch_size / 10);
    }
    if (workers >= 0) options.workers = workers;
    // An evaluation leaves an unreadable image out and counts it, however many there are: the
    // totals below say exactly what was evaluated.
    options.skip_bad = true;
    options.max_bad_fraction = 1.0;
    options.pin_memory = false;
    std::shared_ptr<const data::Transform> transform =
        ten_crop ? std::make_shared<data::TenCropTransform>(data::make_eval_transform(config.data))
                 : data::make_transform(config.data, false);
    data::DataLoader loader(dataset, transform, options);
    const auto start = Clock::now();
    const Counts total = sum_over(*group, evaluate(*model, loader, device, config.loop.precision));
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (total.samples == 0) {
      throw RuntimeError("evaluation: no readable image in " + dataset->describe() + " (" +
                         std::to_string(total.skipped) + " unreadable)");
    }
    if (!group->is_main()) return 0;
    const double n = static_cast<double>(total.samples);
    const double top1 = static_cast<double>(total.top1) / n, top5 = static_cast<double>(total.top5) / n;
    const double loss = total.loss_sum / n, images_per_s = n / std::max(seconds, 1e-9);
    const nlohmann::json json{{"model", config.model.name},
                              {"weights", weights},
                              {"ten_crop", ten_crop},
                              {"precision", train::precision_name(config.loop.precision)},
                              {"processes", group->world_size()},
                              {"batch_size", options.batch_size},
                              {"workers", options.workers},
                              {"samples", total.samples},
                              {"skipped", total.skipped},
                              {"loss", loss},
                              {"top1", top1},
                              {"top5", top5},
                              {"top1_error", 1 - top1},
                              {"top5_error", 1 - top5},
                              {"images_per_s", images_per_s}};
    std::printf("%s on %s (%lld images, %s, %s): top-1 error %.2f%% (accuracy %.2f%%), top-5 error "
                "%.2f%%, loss %.4f, %.1f images/s\n",
                config.model.name.c_str(), dataset->describe().c_str(),
                static_cast<long long>(total.samples), ten_crop ? "10-crop" : "centre crop",
                train::precision_name(config.loop.precision), 100 * (1 - top1), 100 * top1,
                100 * (1 - top5), loss, images_per_s);
    if (total.skipped > 0) {
      std::printf("skipped %lld unreadable image(s), left out of the counts (each named in a "
                  "warning above)\n",
                  static_cast<long long>(total.skipped));
    }
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << json.dump(2) << "\n";
      if (!out) throw RuntimeError(json_path + ": cannot write");
    }
    return 0;
  });
  if (status != 0 && group && group->world_size() > 1) {
    group->abort("crunet-eval failed with status " + std::to_string(status), status);
  }
  return status;
}
