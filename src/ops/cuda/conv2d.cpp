// conv2d on CUDA: cuDNN (cudnnConvolutionForward / BackwardData / BackwardFilter, the groups
// through cudnnSetConvolutionGroupCount) and, for the 3x3 depthwise and small-group geometries,
// the custom kernels of kernels/conv2d.cuh. float32 or bfloat16 storage (cuDNN: BFLOAT16 tensors,
// FLOAT compute type), float32 arithmetic.
//
// cuDNN's algorithm of each pass is chosen by measurement, once per (device, pass, shapes,
// params, dtype, math mode): cudnnFind*AlgorithmEx runs the candidates on the call's own buffers
// (whose results the pass overwrites anyway) with up to 256 MiB of workspace, and the fastest one
// that the thread's math mode allows (math_mode.h: FMA only for exact float32) is cached.
// Where the custom kernels apply, the first call in auto mode (conv2d_kernel_choice.h) then runs
// the custom kernel and that algorithm a few times each on the same buffers, timed with CUDA
// events, and caches the faster side for the key; later calls go straight to it.
// Workspaces come from the caching allocator, so a steady training step makes no cudaMalloc.
// Bias: cudnnAddTensor / cudnnConvolutionBackwardBias for float32, kernels/conv2d_bias.cu for
// bfloat16.
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "../conv2d_backend.h"
#include "../op_checks.h"
#include "conv2d.cuh"
#include "conv2d_kernel_choice.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "cudnn_common.h"
#include "math_mode.h"

namespace crunet::ops::cuda {
namespace {

constexpr std::size_t kFindWorkspaceCap = std::size_t{256} << 20;
constexpr int kTimedRuns = 3;  // per side, after one warm-up run each

struct PlanKey {
  int device;
  ConvPass pass;
  std::array<std::int64_t, 4> x;
  std::array<std::int64_t, 4> w;
  std::int64_t stride, padding, groups;
  DType dtype;
  MathMode mode;
  bool operator<(const PlanKey& o) const {
    return std::tie(device, pass, x, w, stride, padding, groups, dtype, mode) <
           std::tie(o.device, o.pass, o.x, o.w, o.stride, o.padding, o.groups, o.dtype, o.mode);
  }
};

struct Algorithm {
  int algo = 0;  // the pass's cudnnConvolution*Algo_t
  cudnnMathType_t math = CUDNN_FMA_MATH;
  std::size_t workspace = 0;
};

// What is known about one key: cuDNN's algorithm once measured, auto's winner once timed.
struct Plan {
  std::optional<Algorithm> algorithm;
  ConvKernel winner = ConvKernel::kNone;
};

std::mutex plan_mutex;
std::map<PlanKey, Plan>& plans() {
  static auto* cache = new std::map<PlanKey, Plan>();  // never destroyed
  return *cache;
}

thread_local std::array<ConvKernel, 3> last_kernels = {ConvKernel::kNone, ConvKernel::kNone,
                                                       ConvKernel::kNone};

int as_int(std::int64_t value) { return static_cast<int>(value); }

cudnnDataType_t cudnn_type(DType dtype) {
  return dtype == DType::BFloat16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

// cudnn_common.h's descriptors are float32 only; the convolution's also come in bfloat16.
class ConvTensorDescriptor {
 public:
  ConvTensorDescriptor(const Shape& nchw, DType dtype) {
    CRUNET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&descriptor_));
    const cudnnStatus_t status =
        cudnnSetTensor4dDescriptor(descriptor_, CUDNN_TENSOR_NCHW, cudnn_type(dtype),
                                   as_int(nchw[0]), as_int(nchw[1]), as_int(nchw[2]),
                                   as_int(nchw[3]));
    if (status != CUDNN_STATUS_SUCCESS) {
      cudnnDestroyTensorDescriptor(descriptor_);
      CRUNET_CUDNN_CHECK(status);
    }
  }
  ~ConvTensorDescriptor() { cudnnDestroyTensorDescriptor(descriptor_); }
  ConvTensorDescriptor(const ConvTensorDescriptor&) = delete;
  ConvTensorDescriptor& operator=(const ConvTensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return descriptor_; }

 private:
  cudnnTensorDescriptor_t descriptor_ = nullptr;
};

class ConvFilterDescriptor {
 public:
  ConvFilterDescriptor(const Shape& kcrs, DType dtype) {
    CRUNET_CUDNN_CHECK(cudnnCreateFilterDescriptor(&descriptor_));
    const cudnnStatus_t status =
        cudnnSetFilter4dDescriptor(descriptor_, cudnn_type(dtype), CUDNN_TENSOR_NCHW,
                                   as_int(kcrs[0]), as_int(kcrs[1]), as_int(kcrs[2]),
                                   as_int(kcrs[3]));
    if (status != CUDNN_STATUS_SUCCESS) {
      cudnnDestroyFilterDescriptor(descriptor_);
      CRUNET_CUDNN_CHECK(status);
    }
  }
  ~ConvFilterDescriptor() { cudnnDestroyFilterDescriptor(descriptor_); }
  ConvFilterDescriptor(const ConvFilterDescriptor&) = delete;
  ConvFilterDescriptor& operator=(const ConvFilterDescriptor&) = delete;
  cudnnFilterDescriptor_t get() const { return descriptor_; }

 private:
  cudnnFilterDescriptor_t descriptor_ = nullptr;
};

class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor(const Conv2dParams& p, cudnnMathType_t math) {
    CRUNET_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&descriptor_));
    try {
      // The compute type is float for float32 and bfloat16 storage alike.
      CRUNET_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
          descriptor_, as_int(p.padding), as_int(p.padding), as_int(p.stride), as_int(p.stride),
          1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      CRUNET_CUDNN_CHECK(cudnnSetConvolutionGroupCount(descriptor_, as_int(p.groups)));
      CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(descriptor_, math));
    } catch (...) {
      cudnnDestroyConvolutionDescriptor(descriptor_);
      throw;
    }
  }
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(descriptor_); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return descriptor_; }

 private:
  cudnnConvolutionDescriptor_t descriptor_ = nullptr;
};

// The cuDNN side of one call: its descriptors, made only when cuDNN is asked.
struct Setup {
  Setup(const Shape& x_shape, const Shape& w_shape, const Shape& y_shape, const Conv2dParams& p,
        DType dtype, MathMode mode)
      : x(x_shape, dtype), y(y_shape, dtype), w(w_shape, dtype),
        conv(p, conv_search_math(dtype, mode)) {}
  ConvTensorDescriptor x, y;
  ConvFilterDescriptor w;
  ConvolutionDescriptor conv;
};

PlanKey make_key(ConvPass pass, const Shape& x, const Shape& w, const Conv2dParams& p,
                 DType dtype) {
  int device = 0;
  CRUNET_CUDA_CHECK(cudaGetDevice(&device));
  return PlanKey{device, pass, {x[0], x[1], x[2], x[3]}, {w[0], w[1], w[2], w[3]},
                 p.stride, p.padding, p.groups, dtype, math_mode()};
}

// The workspace cudnnFind may use: what is free, within the cap; none if even that fails.
crunet::cuda::DeviceBuffer find_workspace(int device) {
  std::size_t free_bytes = 0, total_bytes = 0;
  CRUNET_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t size = std::min(kFindWorkspaceCap, free_bytes / 2);
  try {
    return crunet::cuda::DeviceBuffer(device, size);
  } catch (const RuntimeError&) {
    return crunet::cuda::DeviceBuffer();
  }
}

// The fastest measured algorithm the math mode allows; failing that, the fastest that ran at all
// (except one that converts float32 to float16). cudnnFind lists its results fastest first.
template <typename Perf>
Algorithm pick(const Perf* results, int count, const char* what, const PlanKey& key) {
  const Perf* chosen = nullptr;
  for (int i = 0; i < count && !chosen; ++i) {
    if (results[i].status == CUDNN_STATUS_SUCCESS &&
        conv_math_allowed(key.dtype, key.mode, results[i].mathType)) {
      chosen = &results[i];
    }
  }
  for (int i = 0; i < count && !chosen; ++i) {
    if (results[i].status == CUDNN_STATUS_SUCCESS &&
        results[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) {
      chosen = &results[i];
    }
  }
  if (!chosen) {
    throw RuntimeError(std::string("conv2d: cuDNN found no usable ") + what + " algorithm for " +
                       dtype_name(key.dtype));
  }
  return Algorithm{static_cast<int>(chosen->algo), chosen->mathType, chosen->memory};
}

// The pass's cuDNN algorithm: cached, or measured now with `find(workspace)`.
template <typename Find>
Algorithm cudnn_algorithm(const PlanKey& key, Find& find) {
  {
    std::lock_guard<std::mutex> lock(plan_mutex);
    auto it = plans().find(key);
    if (it != plans().end() && it->second.algorithm) return *it->second.algorithm;
  }
  crunet::cuda::DeviceBuffer workspace = find_workspace(key.device);
  const Algorithm algorithm = find(workspace);
  std::lock_guard<std::mutex> lock(plan_mutex);
  Plan& plan = plans()[key];
  if (!plan.algorithm) plan.algorithm = algorithm;  // another thread may have measured it too
  return *plan.algorithm;
}

class Event {
 public:
  Event() { CRUNET_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record() { CRUNET_CUDA_CHECK(cudaEventRecord(event_, crunet::cuda::current_stream())); }
  float milliseconds_since(const Event& start) const {
    float ms = 0.0f;
    CRUNET_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
    return ms;
  }
  void synchronize() { CRUNET_CUDA_CHECK(cudaEventSynchronize(event_)); }

 private:
  cudaEvent_t event_ = nullptr;
};

// Auto's choice for the key: cached, or timed now. Both sides run on the call's own buffers;
// the warm-up runs load their modules and queue work ahead of the timed runs, so that the host's
// launch overhead hides behind the GPU's work as it does in training.
template <typename Find, typename RunCudnn, typename RunCustom>
ConvKernel choose(const PlanKey& key, Find& find, RunCudnn& run_cudnn, RunCustom& run_custom) {
  {
    std::lock_guard<std::mutex> lock(plan_mutex);
    auto it = plans().find(key);
    if (it != plans().end() && it->second.winner != ConvKernel::kNone) return it->second.winner;
  }
  std::optional<Algorithm> algorithm;
  try {
    algorithm = cudnn_algorithm(key, find);
  } catch (const RuntimeError&) {
    // cuDNN has no algorithm for this geometry (possible in bfloat16): the custom kernel it is.
  }
  ConvKernel winner = ConvKernel::kCustom;
  if (algorithm) {
    run_custom();
    run_cudnn(*algorithm);
    Event start, middle, stop;
    start.record();
    for (int i = 0; i < kTimedRuns; ++i) run_custom();
    middle.record();
    for (int i = 0; i < kTimedRuns; ++i) run_cudnn(*algorithm);
    stop.record();
    stop.synchronize();
    const float custom_ms = middle.milliseconds_since(start);
    const float cudnn_ms = stop.milliseconds_since(middle);
    winner = custom_ms <= cudnn_ms ? ConvKernel::kCustom : ConvKernel::kCudnn;
  }
  std::lock_guard<std::mutex> lock(plan_mutex);
  Plan& plan = plans()[key];
  if (plan.winner == ConvKernel::kNone) plan.winner = winner;
  return plan.winner;
}

// Runs one pass with the side the thread's choice and the cache say.
template <typename Find, typename RunCudnn, typename RunCustom>
void run_pass(const PlanKey& key, bool custom_applies, Find find, RunCudnn run_cudnn,
              RunCustom run_custom) {
  ConvKernel kernel = ConvKernel::kCudnn;
  if (custom_applies) {
    switch (conv2d_kernel_choice()) {
      case ConvKernelChoice::kCustom: kernel = ConvKernel::kCustom; break;
      case ConvKernelChoice::kCudnn: kernel = ConvKernel::kCudnn; break;
      case ConvKernelChoice::kAuto: kernel = choose(key, find, run_cudnn, run_custom); break;
    }
  }
  if (kernel == ConvKernel::kCustom) {
    run_custom();
  } else {
    run_cudnn(cudnn_algorithm(key, find));
  }
  last_kernels[static_cast<std::size_t>(key.pass)] = kernel;
}

// --- the custom kernels' side -------------------------------------------------------------------

kernels::Conv3x3Geometry geometry_of(const Shape& x, const Shape& w, const Conv2dParams& p) {
  kernels::Conv3x3Geometry g;
  g.batch = x[0];
  g.channels = x[1];
  g.height = x[2];
  g.width = x[3];
  g.out_height = conv2d_output_size(x[2], 3, p);
  g.out_width = conv2d_output_size(x[3], 3, p);
  g.stride = static_cast<int>(p.stride);
  g.group_channels = static_cast<int>(w[1]);
  return g;
}

template <typename T>
T* typed(const Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

template <typename T>
void custom_forward_as(const Tensor& x, const Tensor& w, const Tensor& y,
                       const kernels::Conv3x3Geometry& g) {
  cudaStream_t stream = crunet::cuda::current_stream();
  if (g.group_channels == 1) {
    kernels::depthwise_conv3x3_forward(typed<const T>(x), typed<const T>(w), typed<T>(y), g,
                                       stream);
  } else {
    kernels::grouped_conv3x3_forward(typed<const T>(x), typed<const T>(w), typed<T>(y), g, stream);
  }
}

template <typename T>
void custom_backward_data_as(const Tensor& grad_y, const Tensor& w, const Tensor& grad_x,
                             const kernels::Conv3x3Geometry& g) {
  cudaStream_t stream = crunet::cuda::current_stream();
  if (g.group_channels == 1) {
    kernels::depthwise_conv3x3_backward_data(typed<const T>(grad_y), typed<const T>(w),
                                             typed<T>(grad_x), g, stream);
  } else {
    kernels::grouped_conv3x3_backward_data(typed<const T>(grad_y), typed<const T>(w),
                                           typed<T>(grad_x), g, stream);
  }
}

template <typename T>
void custom_backward_filter_as(const Tensor& grad_y, const Tensor& x, const Tensor& grad_w,
                               const kernels::Conv3x3Geometry& g) {
  crunet::cuda::DeviceBuffer workspace(grad_y.device().index(),
                                       kernels::conv3x3_filter_workspace_bytes(g));
  float* d_workspace = static_cast<float*>(workspace.get());
  cudaStream_t stream = crunet::cuda::current_stream();
  if (g.group_channels == 1) {
    kernels::depthwise_conv3x3_backward_filter(typed<const T>(grad_y), typed<const T>(x),
                                               typed<T>(grad_w), d_workspace, g, stream);
  } else {
    kernels::grouped_conv3x3_backward_filter(typed<const T>(grad_y), typed<const T>(x),
                                             typed<T>(grad_w), d_workspace, g, stream);
  }
}

// --- dtypes and the bias ------------------------------------------------------------------------

// float32 or bfloat16, the same for both tensors.
void check_dtypes(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                  const char* b_name) {
  if (a.dtype() != DType::Float32 && a.dtype() != DType::BFloat16) {
    throw NotImplementedError(std::string(op) + ": " + a_name + " is " + a.description() +
                              "; the CUDA backend takes float32 and bfloat16");
  }
  if (b.defined()) check_same_dtype(op, a, a_name, b, b_name);
}

void add_bias(cudnnHandle_t handle, const Tensor& y, const Tensor& bias) {
  if (y.dtype() == DType::Float32) {
    const float one = 1.0f;
    TensorDescriptor b(bias.shape()), yd(y.shape());
    CRUNET_CUDNN_CHECK(
        cudnnAddTensor(handle, &one, b.get(), bias.data_ptr(), &one, yd.get(), y.data_ptr()));
  } else {
    kernels::add_channel_bias(typed<std::uint16_t>(y), typed<const std::uint16_t>(bias),
                              y.size(0), y.size(1), y.size(2) * y.size(3),
                              crunet::cuda::current_stream());
  }
}

Shape output_shape(const Tensor& x, const Shape& w, const Conv2dParams& p) {
  return {x.size(0), w[0], conv2d_output_size(x.size(2), w[2], p),
          conv2d_output_size(x.size(3), w[3], p)};
}

const float kOne = 1.0f;
const float kZero = 0.0f;

}  // namespace

// --- conv2d_kernel_choice.h (the rest is in conv2d_kernel_choice.cpp) -------------------------

ConvKernel conv2d_last_kernel(ConvPass pass) {
  return last_kernels[static_cast<std::size_t>(pass)];
}

// --- the backend entries ------------------------------------------------------------------------

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params) {
  check_dtypes("conv2d", x, "x", weight, "weight");
  if (bias.defined()) check_same_dtype("conv2d", x, "x", bias, "bias");
  check_cudnn_size("conv2d", x);
  const DType dtype = x.dtype();
  const Shape y_shape = output_shape(x, weight.shape(), params);
  Tensor y = empty(y_shape, TensorOptions(dtype, x.device()));
  check_cudnn_size("conv2d", y);
  crunet::cuda::DeviceGuard guard(x.device());
  cudnnHandle_t handle = cudnn_handle();
  const PlanKey key = make_key(ConvPass::kForward, x.shape(), weight.shape(), params, dtype);
  std::optional<Setup> setup;
  auto descriptors = [&]() -> Setup& {
    if (!setup) setup.emplace(x.shape(), weight.shape(), y_shape, params, dtype, key.mode);
    return *setup;
  };
  run_pass(
      key, conv2d_custom_kernel_applies(x.shape(), weight.shape(), params, dtype),
      [&](const crunet::cuda::DeviceBuffer& workspace) {
        Setup& s = descriptors();
        cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int count = 0;
        CRUNET_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
            handle, s.x.get(), x.data_ptr(), s.w.get(), weight.data_ptr(), s.conv.get(), s.y.get(),
            y.data_ptr(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results, workspace.get(),
            workspace.size()));
        return pick(results, count, "forward", key);
      },
      [&](const Algorithm& a) {
        Setup& s = descriptors();
        CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.get(), a.math));
        crunet::cuda::DeviceBuffer workspace(x.device().index(), a.workspace);
        CRUNET_CUDNN_CHECK(cudnnConvolutionForward(
            handle, &kOne, s.x.get(), x.data_ptr(), s.w.get(), weight.data_ptr(), s.conv.get(),
            static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), workspace.get(), workspace.size(),
            &kZero, s.y.get(), y.data_ptr()));
      },
      [&]() {
        const kernels::Conv3x3Geometry g = geometry_of(x.shape(), weight.shape(), params);
        if (dtype == DType::Float32) {
          custom_forward_as<float>(x, weight, y, g);
        } else {
          custom_forward_as<std::uint16_t>(x, weight, y, g);
        }
      });
  if (bias.defined()) add_bias(handle, y, bias);
  return y;
}

Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params) {
  check_dtypes("conv2d backward", grad_y, "grad_y", weight, "weight");
  check_cudnn_size("conv2d backward", grad_y);
  const DType dtype = grad_y.dtype();
  Tensor grad_x = empty(x_shape, TensorOptions(dtype, grad_y.device()));
  check_cudnn_size("conv2d backward", grad_x);
  crunet::cuda::DeviceGuard guard(grad_y.device());
  cudnnHandle_t handle = cudnn_handle();
  const PlanKey key = make_key(ConvPass::kBackwardData, x_shape, weight.shape(), params, dtype);
  std::optional<Setup> setup;
  auto descriptors = [&]() -> Setup& {
    if (!setup) setup.emplace(x_shape, weight.shape(), grad_y.shape(), params, dtype, key.mode);
    return *setup;
  };
  run_pass(
      key, conv2d_custom_kernel_applies(x_shape, weight.shape(), params, dtype),
      [&](const crunet::cuda::DeviceBuffer& workspace) {
        Setup& s = descriptors();
        cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        int count = 0;
        CRUNET_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
            handle, s.w.get(), weight.data_ptr(), s.y.get(), grad_y.data_ptr(), s.conv.get(),
            s.x.get(), grad_x.data_ptr(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, results,
            workspace.get(), workspace.size()));
        return pick(results, count, "backward-data", key);
      },
      [&](const Algorithm& a) {
        Setup& s = descriptors();
        CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.get(), a.math));
        crunet::cuda::DeviceBuffer workspace(grad_y.device().index(), a.workspace);
        CRUNET_CUDNN_CHECK(cudnnConvolutionBackwardData(
            handle, &kOne, s.w.get(), weight.data_ptr(), s.y.get(), grad_y.data_ptr(),
            s.conv.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), workspace.get(),
            workspace.size(), &kZero, s.x.get(), grad_x.data_ptr()));
      },
      [&]() {
        const kernels::Conv3x3Geometry g = geometry_of(x_shape, weight.shape(), params);
        if (dtype == DType::Float32) {
          custom_backward_data_as<float>(grad_y, weight, grad_x, g);
        } else {
          custom_backward_data_as<std::uint16_t>(grad_y, weight, grad_x, g);
        }
      });
  return grad_x;
}

Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params) {
  check_dtypes("conv2d backward", grad_y, "grad_y", x, "x");
  check_cudnn_size("conv2d backward", grad_y);
  check_cudnn_size("conv2d backward", x);
  const DType dtype = grad_y.dtype();
  Tensor grad_w = empty(weight_shape, TensorOptions(dtype, grad_y.device()));
  crunet::cuda::DeviceGuard guard(grad_y.device());
  cudnnHandle_t handle = cudnn_handle();
  const PlanKey key = make_key(ConvPass::kBackwardFilter, x.shape(), weight_shape, params, dtype);
  std::optional<Setup> setup;
  auto descriptors = [&]() -> Setup& {
    if (!setup) setup.emplace(x.shape(), weight_shape, grad_y.shape(), params, dtype, key.mode);
    return *setup;
  };
  run_pass(
      key, conv2d_custom_kernel_applies(x.shape(), weight_shape, params, dtype),
      [&](const crunet::cuda::DeviceBuffer& workspace) {
        Setup& s = descriptors();
        cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        int count = 0;
        CRUNET_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
            handle, s.x.get(), x.data_ptr(), s.y.get(), grad_y.data_ptr(), s.conv.get(),
            s.w.get(), grad_w.data_ptr(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
            results, workspace.get(), workspace.size()));
        return pick(results, count, "backward-filter", key);
      },
      [&](const Algorithm& a) {
        Setup& s = descriptors();
        CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.get(), a.math));
        crunet::cuda::DeviceBuffer workspace(grad_y.device().index(), a.workspace);
        CRUNET_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
            handle, &kOne, s.x.get(), x.data_ptr(), s.y.get(), grad_y.data_ptr(), s.conv.get(),
            static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), workspace.get(),
            workspace.size(), &kZero, s.w.get(), grad_w.data_ptr()));
      },
      [&]() {
        const kernels::Conv3x3Geometry g = geometry_of(x.shape(), weight_shape, params);
        if (dtype == DType::Float32) {
          custom_backward_filter_as<float>(grad_y, x, grad_w, g);
        } else {
          custom_backward_filter_as<std::uint16_t>(grad_y, x, grad_w, g);
        }
      });
  return grad_w;
}

Tensor conv2d_backward_bias(const Tensor& grad_y) {
  check_dtypes("conv2d backward", grad_y, "grad_y", Tensor(), "");
  check_cudnn_size("conv2d backward", grad_y);
  Tensor grad_b = empty({grad_y.size(1)}, TensorOptions(grad_y.dtype(), grad_y.device()));
  crunet::cuda::DeviceGuard guard(grad_y.device());
  if (grad_y.dtype() == DType::BFloat16) {
    kernels::channel_sums(typed<const std::uint16_t>(grad_y), typed<std::uint16_t>(grad_b),
                          grad_y.size(0), grad_y.size(1), grad_y.size(2) * grad_y.size(3),
                          crunet::cuda::current_stream());
    return grad_b;
  }
  TensorDescriptor dy(grad_y.shape()), db(grad_b.shape());
  CRUNET_CUDNN_CHECK(cudnnConvolutionBackwardBias(cudnn_handle(), &kOne, dy.get(),
                                                  grad_y.data_ptr(), &kZero, db.get(),
                                                  grad_b.data_ptr()));
  return grad_b;
}

}  // namespace crunet::ops::cuda
