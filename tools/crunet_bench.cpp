// crunet-bench: training (forward, backward, SGD step) and inference images per second of a model
// on random data, and peak memory. Compare with bench/cpu_vs_pytorch.sh (same machine, same run).
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <functional>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "tool_main.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const std::function<void()>& step, int warmup, int steps) {
  for (int i = 0; i < warmup; ++i) step();
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) step();
  return std::chrono::duration<double>(Clock::now() - start).count() / steps;
}

std::int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Training and inference images per second of a model, and peak memory",
               "crunet-bench"};
  std::string config, device_name = "cpu", precision_name = "fp32";
  std::int64_t batch = 8, input_size = 0, threads = 0;
  int steps = 5, warmup = 2;
  bool json = false, train_only = false, infer_only = false;
  app.add_option("--config", config, "model spec, training config or zoo name")->required();
  // Ranges as the training config's (data.batch_size, data.augment.size), so that an overflowing
  // size or a typo is a command-line error, not a negative estimate or a huge allocation.
  app.add_option("--batch", batch, "images per step")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  app.add_option("--steps", steps, "timed steps")->check(CLI::Range(1, 1 << 30));
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::Range(0, 1 << 30));
  app.add_option("--device", device_name, "cpu, cuda or cuda:N");
  app.add_option("--precision", precision_name,
                 "fp32, tf32 or bf16 (tf32 on a GPU only; bf16 on a GPU or on a CPU with "
                 "avx512_bf16 or amx_bf16; docs/config.md)");
  app.add_option("--input-size", input_size, "image size (default: the spec's)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{65536}));
  app.add_option("--threads", threads, "OpenMP threads (default: all cores)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{4096}));
  app.add_flag("--json", json, "print one JSON object");
  app.add_flag("--train-only", train_only, "skip the inference measurement");
  app.add_flag("--infer-only", infer_only, "skip the training measurement")
      ->excludes("--train-only");  // both would measure nothing
  return crunet::tools::run_tool(app, argc, argv, [&] {
    using namespace crunet;
    const Device device = Device::parse(device_name);
    train::Precision precision = train::Precision::kFp32;
    try {
      precision = train::parse_precision(precision_name);
    } catch (const ValueError& e) {
      throw UserError(std::string("--precision: ") + e.what());
    }
    if (const std::string why = train::precision_unsupported_reason(precision, device); !why.empty()) {
      throw UserError("--precision " + precision_name + ": " + why);
    }
    if (device.is_cuda() && !cuda_is_available()) {
      throw UserError("--device " + device_name + ": no usable CUDA GPU on this machine");
    }
    if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
    models::ModelSpec spec = models::load_model_spec(config);
    if (input_size > 0) spec.input_size = input_size;
    manual_seed(0);
    auto model = models::build(spec);
    model->to(device);
    // Random images, drawn where they are used: on a GPU by its own generator (no host round trip).
    const Shape image_shape{batch, spec.in_channels, spec.input_size, spec.input_size};
    Tensor images;
    if (device.is_cuda()) {
      images = empty(image_shape, TensorOptions(device));
      normal_(images);
    } else {
      images = randn(image_shape, 1, TensorOptions(device));
    }
    std::vector<std::int64_t> label_values(static_cast<std::size_t>(batch));
    for (std::int64_t i = 0; i < batch; ++i) label_values[static_cast<std::size_t>(i)] = i % spec.classes;
    const Tensor labels = from_int64_vector(label_values, {batch}, device);
    optim::SGD sgd(model->named_parameters(), optim::SGDOptions{0.01, 0.9, true, 5e-4, optim::WeightDecayScope::All});

    double train_seconds = 0, infer_seconds = 0;
    if (!infer_only) {
      model->train();
      train_seconds = seconds_of(
          [&] {
            train::PrecisionScope scope(precision);
            ops::cross_entropy(model->forward(images), labels).backward();
            sgd.step();
            sgd.zero_grad();
            if (device.is_cuda()) model->parameters()[0].to_vector();  // waits for the GPU
          },
          warmup, steps);
    }
    if (!train_only) {
      model->eval();
      NoGradGuard no_grad;
      infer_seconds = seconds_of(
          [&] {
            train::PrecisionScope scope(precision);
            const Tensor logits = model->forward(images);
            if (device.is_cuda()) logits.to_vector();
          },
          warmup, steps);
    }
    const double train_rate = train_seconds > 0 ? batch / train_seconds : 0;
    const double infer_rate = infer_seconds > 0 ? batch / infer_seconds : 0;
    const std::int64_t peak =
        device.is_cuda() ? allocator_for(device).stats().peak_bytes : peak_rss_bytes();
    if (json) {
      std::cout << nlohmann::json{{"model", spec.name}, {"batch", batch}, {"steps", steps},
                                  {"input_size", spec.input_size}, {"device", device.str()},
                                  {"precision", train::precision_name(precision)},
                                  {"threads", omp_get_max_threads()},
                                  {"train_img_per_s", train_rate}, {"infer_img_per_s", infer_rate},
                                  {device.is_cuda() ? "peak_device_bytes" : "peak_rss_bytes", peak}}
                       .dump()
                << "\n";
    } else {
      std::printf("%s batch %lld at %lldx%lld on %s in %s (%d threads): train %.2f img/s, "
                  "inference %.2f img/s, peak %s %.1f MiB\n",
                  spec.name.c_str(), static_cast<long long>(batch),
                  static_cast<long long>(spec.input_size), static_cast<long long>(spec.input_size),
                  device.str().c_str(), train::precision_name(precision), omp_get_max_threads(),
                  train_rate, infer_rate,
                  device.is_cuda() ? "device memory" : "resident memory", peak / 1048576.0);
    }
    return 0;
  });
}
