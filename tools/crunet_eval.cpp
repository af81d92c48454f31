// crunet-eval: top-1 / top-5 error of trained weights on the config's validation set, with a single
// centre crop or ten crops (four corners and the centre, and their mirrors; softmax averaged).
// Under mpirun every process evaluates its share of the images (every image exactly once) and
// rank 0 reports the summed counts.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "crunet/data/dataset.h"
#include "crunet/data/loader.h"
#include "crunet/data/transforms.h"
#include "crunet/train/checkpoint.h"
#include "crunet/train/config.h"
#include "crunet/train/metrics.h"
#include "crunet/train/trainer.h"
#include "tool_main.h"

namespace {

using Clock = std::chrono::steady_clock;

// Ten-crop evaluation: for each image, the mean of the softmax over its ten crops. Process r of
// the group takes the images i with i % world_size == r.
crunet::train::EvalResult evaluate_ten_crop(crunet::models::Network& model,
                                            const crunet::data::Dataset& dataset,
                                            const crunet::data::EvalTransform& transform,
                                            std::int64_t batch_images, const crunet::Device& device,
                                            crunet::dist::ProcessGroup& group) {
  using namespace crunet;
  model.eval();
  NoGradGuard no_grad;
  train::EvalResult result;
  std::int64_t top1 = 0, top5 = 0;
  double loss_sum = 0;
  const auto start = Clock::now();
  std::vector<std::int64_t> mine;
  for (std::int64_t i = group.rank(); i < dataset.size(); i += group.world_size()) mine.push_back(i);
  const auto my_count = static_cast<std::int64_t>(mine.size());
  for (std::int64_t first = 0; first < my_count; first += batch_images) {
    const std::int64_t count = std::min(batch_images, my_count - first);
    std::vector<Tensor> crops;
    std::vector<std::int64_t> labels;
    for (std::int64_t k = first; k < first + count; ++k) {
      const data::Example example = dataset.get(mine[static_cast<std::size_t>(k)]);
      for (Tensor& crop : transform.ten_crop(example.image)) crops.push_back(crop);
      labels.push_back(example.label);
    }
    const Shape crop_shape = crops[0].shape();
    Tensor batch = empty({static_cast<std::int64_t>(crops.size()), crop_shape[0], crop_shape[1], crop_shape[2]});
    const std::int64_t crop_size = crops[0].numel();
    for (std::size_t c = 0; c < crops.size(); ++c) {
      std::copy_n(crops[c].data<float>(), crop_size, batch.data<float>() + c * crop_size);
    }
    const std::vector<float> logits = model.forward(batch.to(device)).to_vector();
    const std::int64_t classes = static_cast<std::int64_t>(logits.size()) / (count * 10);
    std::vector<float> mean_probability(static_cast<std::size_t>(count * classes), 0.0f);
    for (std::int64_t image = 0; image < count; ++image) {
      for (std::int64_t crop = 0; crop < 10; ++crop) {
        const float* row = logits.data() + (image * 10 + crop) * classes;
        const float peak = *std::max_element(row, row + classes);
        double sum = 0;
        for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(row[c] - peak);
        for (std::int64_t c = 0; c < classes; ++c) {
          mean_probability[image * classes + c] += static_cast<float>(std::exp(row[c] - peak) / sum / 10);
        }
      }
      loss_sum -= std::log(std::max(mean_probability[image * classes + labels[image]], 1e-12f));
    }
    const Tensor scores = from_vector(mean_probability, {count, classes});
    const Tensor truth = from_int64_vector(labels, {count});
    top1 += train::count_top_k(scores, truth, 1);
    top5 += train::count_top_k(scores, truth, std::min<std::int64_t>(5, classes));
    result.samples += count;
  }
  std::vector<double> sums{loss_sum, static_cast<double>(top1), static_cast<double>(top5),
                           static_cast<double>(result.samples)};
  group.all_reduce(sums, dist::ReduceOp::Sum);
  loss_sum = sums[0];
  top1 = static_cast<std::int64_t>(std::llround(sums[1]));
  top5 = static_cast<std::int64_t>(std::llround(sums[2]));
  result.samples = static_cast<std::int64_t>(std::llround(sums[3]));
  if (result.samples == 0) throw RuntimeError("evaluation: the validation set is empty");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.loss = loss_sum / result.samples;
  result.top1 = static_cast<double>(top1) / result.samples;
  result.top5 = static_cast<double>(top5) / result.samples;
  result.images_per_s = result.samples / std::max(seconds, 1e-9);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate trained weights: top-1 / top-5 error and images per second", "crunet-eval"};
  std::string config_path, weights, json_path;
  std::vector<std::string> overrides;
  bool ten_crop = false;
  app.add_option("--config", config_path, "training config (YAML)")->required()->check(CLI::ExistingFile);
  app.add_option("--weights", weights, "weights (model.safetensors) or a checkpoint")
      ->required()->check(CLI::ExistingFile);
  app.add_option("--set", overrides, "override a config key: key.path=value (repeatable)");
  app.add_flag("--ten-crop", ten_crop, "average the softmax of ten crops per image");
  app.add_option("--json", json_path, "also write the result as JSON to this file");
  std::shared_ptr<crunet::dist::ProcessGroup> group;
  const int status = crunet::tools::run_tool(app, argc, argv, [&] {
    using namespace crunet;
    group = dist::world();
    const train::TrainConfig config = train::load_train_config(config_path, overrides);
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
    auto model = models::build(config.model);
    train::load_model_weights(weights, *model);
    model->to(device);
    auto dataset = data::make_dataset(config.data, "val");
    train::EvalResult result;
    if (ten_crop) {
      const data::LoaderOptions options = data::make_loader_options(config.data, false, config.loop.seed);
      result = evaluate_ten_crop(*model, *dataset, *data::make_eval_transform(config.data),
                                 std::max<std::int64_t>(1, options.batch_size / 10), device, *group);
    } else {
      data::DataLoader loader(dataset, data::make_transform(config.data, false),
                              data::make_loader_options(config.data, false, config.loop.seed,
                                                        group->rank(), group->world_size()));
      result = train::evaluate(*model, loader, device, group.get());
    }
    if (!group->is_main()) return 0;
    const nlohmann::json json{{"model", config.model.name},   {"weights", weights},
                              {"ten_crop", ten_crop},         {"samples", result.samples},
                              {"loss", result.loss},          {"top1", result.top1},
                              {"top5", result.top5},          {"top1_error", 1 - result.top1},
                              {"top5_error", 1 - result.top5}, {"images_per_s", result.images_per_s}};
    std::printf("%s on %s (%lld images, %s): top-1 error %.2f%% (accuracy %.2f%%), top-5 error "
                "%.2f%%, loss %.4f, %.0f images/s\n",
                config.model.name.c_str(), dataset->describe().c_str(),
                static_cast<long long>(result.samples), ten_crop ? "10-crop" : "centre crop",
                100 * (1 - result.top1), 100 * result.top1, 100 * (1 - result.top5), result.loss,
                result.images_per_s);
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
