// The custom depthwise and small-group convolution kernels against cuDNN's best algorithm, at
// every such shape of CRU-Net-56, CRU-Net-116 and ResNeXt-50 32x4d at 224x224 (batch 64 by
// default): forward, backward-data and backward-filter, each side forced through the backend
// entries (src/ops/cuda/conv2d_kernel_choice.h), so both include what a training step pays.
// One line per (shape, pass), for scripts:
//   conv <shape-name> <pass> <dtype> crunet_ms=<x.xxx> cudnn_ms=<y.yyy> ratio=<cudnn/crunet>
// Timing: CUDA events around each call, after one warm-up call (which also runs cudnnFind).
// Before every timed call a large cudaMemsetAsync keeps the GPU busy while the host queues the
// call, so the events measure the GPU's work and not the host's launch overhead. Median of N.
// The inputs are constants: neither side's speed depends on the values. A side that fails prints
// nan (and a comment line saying why) instead of its time.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/cuda_runtime.h"
#include "crunet/crunet.h"
#include "crunet/ops/math_mode.h"
#include "ops/conv2d_backend.h"
#include "ops/cuda/conv2d_kernel_choice.h"

namespace {

using crunet::Shape;
using crunet::Tensor;
using crunet::ops::cuda::ConvKernelChoice;

// Where the shapes come from (configs/models/*.yaml, DESIGN.md §3): a ResNeXt unit's 3x3 has D
// channels in groups of D / 32 (4 in stage 1, 8 in stage 2; 16 and 32 later, which the custom
// kernels leave to cuDNN); a CRU's shared W3 is depthwise on D channels. The first unit of stages
// 2-4 has stride 2 and takes the previous stage's resolution.
struct ConvShape {
  const char* name;
  const char* used_by;
  std::int64_t channels, size, group_channels, stride;
};

const ConvShape kShapes[] = {
    {"grouped4_c128_56x56_s1", "crunet56 and resnext50_32x4d stage 1 (all units)", 128, 56, 4, 1},
    {"grouped8_c256_56x56_s2", "crunet56 and resnext50_32x4d stage 2 (first unit)", 256, 56, 8, 2},
    {"grouped8_c256_28x28_s1", "crunet56 and resnext50_32x4d stage 2 (other units)", 256, 28, 8, 1},
    {"depthwise_c640_28x28_s2", "crunet56 stage 3 (first unit)", 640, 28, 1, 2},
    {"depthwise_c640_14x14_s1", "crunet56 stage 3 (other units)", 640, 14, 1, 1},
    {"depthwise_c352_56x56_s2", "crunet116 stage 2 (first unit)", 352, 56, 1, 2},
    {"depthwise_c352_28x28_s1", "crunet116 stage 2 (other units)", 352, 28, 1, 1},
    {"depthwise_c704_28x28_s2", "crunet116 stage 3 (first unit)", 704, 28, 1, 2},
    {"depthwise_c704_14x14_s1", "crunet116 stage 3 (other units)", 704, 14, 1, 1},
};

struct Options {
  std::string dtype = "fp32";  // fp32, tf32 (float32 storage, TF32 math) or bf16
  std::int64_t batch = 64;
  int runs = 20;
  std::string only;  // a substring of the shape names to run, or all
};

const char kUsage[] =
    "usage: crunet_bench_gpu_conv [--dtype fp32|tf32|bf16] [--batch N] [--runs N] [--only TEXT]\n"
    "\n"
    "Times crunet's depthwise and small-group 3x3 convolution kernels against cuDNN's best\n"
    "algorithm at the CRU-Net-56, CRU-Net-116 and ResNeXt-50 32x4d shapes (224x224 input) on\n"
    "cuda:0, forward, backward-data and backward-filter, and prints one line per (shape, pass):\n"
    "  conv <shape-name> <pass> <dtype> crunet_ms=<x.xxx> cudnn_ms=<y.yyy> ratio=<cudnn/crunet>\n"
    "\n"
    "  --dtype   fp32 (default), tf32 (float32 tensors, cuDNN may use TF32 tensor cores) or bf16\n"
    "  --batch   images per batch (default 64)\n"
    "  --runs    timed calls per measurement, the median is printed (default 20)\n"
    "  --only    run only the shapes whose name contains TEXT\n"
    "Exit status: 0 success, 2 usage error, 1 runtime failure (e.g. no GPU).\n";

// A whole positive decimal number, or 0.
std::int64_t positive(const std::string& text) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  return !text.empty() && *end == '\0' && value > 0 ? value : 0;
}

// Returns false after printing why the command line is wrong.
bool parse(int argc, char** argv, Options* options, bool* help) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return true;
    }
    const std::size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "crunet_bench_gpu_conv: %s needs a value\n%s", key.c_str(), kUsage);
      return false;
    }
    bool ok = true;
    if (key == "--dtype") {
      ok = value == "fp32" || value == "tf32" || value == "bf16";
      options->dtype = value;
    } else if (key == "--batch") {
      options->batch = positive(value);
      ok = options->batch > 0;
    } else if (key == "--runs") {
      options->runs = static_cast<int>(std::min<std::int64_t>(positive(value), 10000));
      ok = options->runs > 0;
    } else if (key == "--only") {
      options->only = value;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "crunet_bench_gpu_conv: bad argument %s %s\n%s", key.c_str(),
                   value.c_str(), kUsage);
      return false;
    }
  }
  return true;
}

class Timer {
 public:
  Timer() {
    CRUNET_CUDA_CHECK(cudaEventCreate(&start_));
    CRUNET_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~Timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }
  float milliseconds() const {
    float ms = 0.0f;
    CRUNET_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// The median GPU time of `run`, in milliseconds.
double median_ms(const std::function<void()>& run, int runs,
                 const crunet::cuda::DeviceBuffer& busy) {
  cudaStream_t stream = crunet::cuda::current_stream();
  run();  // warm-up: modules, cudnnFind, the caching allocator's blocks
  std::vector<Timer> timers(static_cast<std::size_t>(runs));
  for (Timer& timer : timers) {
    CRUNET_CUDA_CHECK(cudaMemsetAsync(busy.get(), 0, busy.size(), stream));
    CRUNET_CUDA_CHECK(cudaEventRecord(timer.start(), stream));
    run();
    CRUNET_CUDA_CHECK(cudaEventRecord(timer.stop(), stream));
  }
  CRUNET_CUDA_CHECK(cudaEventSynchronize(timers.back().stop()));
  std::vector<double> ms;
  for (const Timer& timer : timers) ms.push_back(timer.milliseconds());
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// One side's median time; NaN (printed as nan) with a comment line when that side fails, e.g.
// when cuDNN has no algorithm for the dtype, so that the other lines still come out.
double time_side(ConvKernelChoice side, const std::function<void()>& run, int runs,
                 const crunet::cuda::DeviceBuffer& busy) {
  crunet::ops::cuda::ConvKernelChoiceGuard choice(side);
  try {
    return median_ms(run, runs, busy);
  } catch (const crunet::RuntimeError& e) {
    std::printf("# %s failed: %s\n", crunet::ops::cuda::conv_kernel_choice_name(side), e.what());
    return std::nan("");
  }
}

int run_benchmark(const Options& options) {
  if (!crunet::cuda_is_available()) {
    std::fprintf(stderr, "crunet_bench_gpu_conv: no CUDA GPU (%s)\n",
                 crunet::cuda::unavailable_reason().c_str());
    return 1;
  }
  const crunet::DType dtype =
      options.dtype == "bf16" ? crunet::DType::BFloat16 : crunet::DType::Float32;
  crunet::ops::CudaMathModeGuard math(options.dtype == "tf32" ? crunet::ops::MathMode::kTf32
                                                              : crunet::ops::MathMode::kFp32);
  const crunet::Device gpu = crunet::Device::cuda(0);
  crunet::cuda::DeviceGuard device(gpu);
  const crunet::cuda::DeviceBuffer busy(0, std::size_t{256} << 20);
  crunet::NoGradGuard no_grad;
  for (const ConvShape& s : kShapes) {
    if (!options.only.empty() && std::string(s.name).find(options.only) == std::string::npos) {
      continue;
    }
    std::printf("# %s: %s\n", s.name, s.used_by);
    const std::int64_t out = (s.size - 1) / s.stride + 1;
    const Shape x_shape{options.batch, s.channels, s.size, s.size};
    const Shape w_shape{s.channels, s.group_channels, 3, 3};
    const Shape y_shape{options.batch, s.channels, out, out};
    const crunet::ops::Conv2dParams params{s.stride, 1, s.channels / s.group_channels, 1};
    const crunet::TensorOptions on_gpu(dtype, gpu);
    const Tensor x = crunet::full(x_shape, 0.5, on_gpu);
    const Tensor w = crunet::full(w_shape, 0.25, on_gpu);
    const Tensor grad_y = crunet::full(y_shape, 0.125, on_gpu);
    const std::pair<const char*, std::function<void()>> passes[] = {
        {"forward", [&] { crunet::ops::cuda::conv2d_forward(x, w, Tensor(), params); }},
        {"backward-data",
         [&] { crunet::ops::cuda::conv2d_backward_data(grad_y, w, x_shape, params); }},
        {"backward-filter",
         [&] { crunet::ops::cuda::conv2d_backward_weight(grad_y, x, w_shape, params); }},
    };
    for (const auto& [pass, run] : passes) {
      const double custom_ms = time_side(ConvKernelChoice::kCustom, run, options.runs, busy);
      const double cudnn_ms = time_side(ConvKernelChoice::kCudnn, run, options.runs, busy);
      std::printf("conv %s %s %s crunet_ms=%.3f cudnn_ms=%.3f ratio=%.2f\n", s.name, pass,
                  options.dtype.c_str(), custom_ms, cudnn_ms, cudnn_ms / custom_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool help = false;
  if (!parse(argc, argv, &options, &help)) return 2;
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  try {
    return run_benchmark(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crunet_bench_gpu_conv: failed: %s\n", e.what());
    return 1;
  }
}
