// conv2d on CUDA through cuDNN: cudnnConvolutionForward / BackwardData / BackwardFilter, the
// groups through cudnnSetConvolutionGroupCount (depthwise is groups = channels), the bias through
// cudnnAddTensor and cudnnConvolutionBackwardBias.
//
// The algorithm of each pass is chosen by measurement, once per (device, pass, shapes, params):
// cudnnFind*AlgorithmEx runs the candidates on the call's own buffers (whose results the pass
// overwrites anyway) with up to 256 MiB of workspace, and the fastest one that computes in plain
// float32 (CUDNN_FMA_MATH: no TF32 tensor cores, so results match the CPU to ~1e-5) is cached.
// Workspaces come from the caching allocator, so a steady training step makes no cudaMalloc.
// float32 only for now.
#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <tuple>

#include "../conv2d_backend.h"
#include "../op_checks.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "cudnn_common.h"

namespace crunet::ops::cuda {
namespace {

constexpr std::size_t kFindWorkspaceCap = std::size_t{256} << 20;

enum class Pass { Forward, BackwardData, BackwardFilter };

struct AlgorithmKey {
  int device;
  Pass pass;
  std::array<std::int64_t, 4> x;
  std::array<std::int64_t, 4> w;
  std::int64_t stride, padding, groups;
  bool operator<(const AlgorithmKey& o) const {
    return std::tie(device, pass, x, w, stride, padding, groups) <
           std::tie(o.device, o.pass, o.x, o.w, o.stride, o.padding, o.groups);
  }
};

struct Algorithm {
  int algo = 0;  // the pass's cudnnConvolution*Algo_t
  cudnnMathType_t math = CUDNN_FMA_MATH;
  std::size_t workspace = 0;
};

std::mutex cache_mutex;
std::map<AlgorithmKey, Algorithm>& algorithm_cache() {
  static auto* cache = new std::map<AlgorithmKey, Algorithm>();  // never destroyed
  return *cache;
}

class ConvolutionDescriptor {
 public:
  explicit ConvolutionDescriptor(const Conv2dParams& p) {
    CRUNET_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&descriptor_));
    try {
      CRUNET_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
          descriptor_, static_cast<int>(p.padding), static_cast<int>(p.padding),
          static_cast<int>(p.stride), static_cast<int>(p.stride), 1, 1, CUDNN_CROSS_CORRELATION,
          CUDNN_DATA_FLOAT));
      CRUNET_CUDNN_CHECK(cudnnSetConvolutionGroupCount(descriptor_, static_cast<int>(p.groups)));
      CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(descriptor_, CUDNN_FMA_MATH));
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

// The descriptors of one call.
struct Setup {
  Setup(const Shape& x_shape, const Shape& w_shape, const Shape& y_shape, const Conv2dParams& p)
      : x(x_shape), y(y_shape), w(w_shape), conv(p) {}
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
};

AlgorithmKey make_key(Pass pass, const Shape& x, const Shape& w, const Conv2dParams& p) {
  int device = 0;
  CRUNET_CUDA_CHECK(cudaGetDevice(&device));
  return AlgorithmKey{device, pass, {x[0], x[1], x[2], x[3]}, {w[0], w[1], w[2], w[3]},
                      p.stride, p.padding, p.groups};
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

// The fastest measured algorithm in plain float32; failing that, the fastest that ran at all.
template <typename Perf>
Algorithm pick(const Perf* results, int count, const char* what) {
  const Perf* chosen = nullptr;
  for (int i = 0; i < count && !chosen; ++i) {
    if (results[i].status == CUDNN_STATUS_SUCCESS && results[i].mathType == CUDNN_FMA_MATH) {
      chosen = &results[i];
    }
  }
  for (int i = 0; i < count && !chosen; ++i) {
    if (results[i].status == CUDNN_STATUS_SUCCESS) chosen = &results[i];
  }
  if (!chosen) {
    throw RuntimeError(std::string("conv2d: cuDNN found no usable ") + what + " algorithm");
  }
  return Algorithm{static_cast<int>(chosen->algo), chosen->mathType, chosen->memory};
}

// Looks the pass's algorithm up, measuring it on first use with `find(workspace)`.
template <typename Find>
Algorithm algorithm_for(const AlgorithmKey& key, Find find) {
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto it = algorithm_cache().find(key);
    if (it != algorithm_cache().end()) return it->second;
  }
  crunet::cuda::DeviceBuffer workspace = find_workspace(key.device);
  const Algorithm algorithm = find(workspace);
  std::lock_guard<std::mutex> lock(cache_mutex);
  algorithm_cache().emplace(key, algorithm);
  return algorithm;
}

Shape output_shape(const Tensor& x, const Shape& w, const Conv2dParams& p) {
  return {x.size(0), w[0], conv2d_output_size(x.size(2), w[2], p),
          conv2d_output_size(x.size(3), w[3], p)};
}

void check_float32(const char* op, const Tensor& t, const char* name) {
  if (t.defined() && t.dtype() != DType::Float32) {
    throw NotImplementedError(std::string(op) + ": " + name + " is " + t.description() +
                              "; the CUDA backend takes float32 for now");
  }
}

const float kOne = 1.0f;
const float kZero = 0.0f;

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params) {
  check_float32("conv2d", x, "x");
  check_float32("conv2d", weight, "weight");
  check_float32("conv2d", bias, "bias");
  check_cudnn_size("conv2d", x);
  const Shape y_shape = output_shape(x, weight.shape(), params);
  Tensor y = empty(y_shape, TensorOptions(DType::Float32, x.device()));
  check_cudnn_size("conv2d", y);
  crunet::cuda::DeviceGuard guard(x.device());
  cudnnHandle_t handle = cudnn_handle();
  Setup s(x.shape(), weight.shape(), y_shape, params);
  const Algorithm a = algorithm_for(
      make_key(Pass::Forward, x.shape(), weight.shape(), params),
      [&](const crunet::cuda::DeviceBuffer& workspace) {
        cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int count = 0;
        CRUNET_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
            handle, s.x.get(), x.data_ptr(), s.w.get(), weight.data_ptr(), s.conv.get(), s.y.get(),
            y.data_ptr(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results, workspace.get(),
            workspace.size()));
        return pick(results, count, "forward");
      });
  CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.get(), a.math));
  crunet::cuda::DeviceBuffer workspace(x.device().index(), a.workspace);
  CRUNET_CUDNN_CHECK(cudnnConvolutionForward(
      handle, &kOne, s.x.get(), x.data_ptr(), s.w.get(), weight.data_ptr(), s.conv.get(),
      static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), workspace.get(), workspace.size(), &kZero,
      s.y.get(), y.data_ptr()));
  if (bias.defined()) {
    TensorDescriptor b(bias.shape());
    CRUNET_CUDNN_CHECK(
        cudnnAddTensor(handle, &kOne, b.get(), bias.data_ptr(), &kOne, s.y.get(), y.data_ptr()));
  }
  return y;
}

Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params) {
  check_float32("conv2d backward", grad_y, "grad_y");
  check_float32("conv2d backward", weight, "weight");
  check_cudnn_size("conv2d backward", grad_y);
  Tensor grad_x = empty(x_shape, TensorOptions(DType::Float32, grad_y.device()));
  check_cudnn_size("conv2d backward", grad_x);
  crunet::cuda::DeviceGuard guard(grad_y.device());
  cudnnHandle_t handle = cudnn_handle();
  Setup s(x_shape, weight.shape(), grad_y.shape(), params);
  const Algorithm a = algorithm_for(
      make_key(Pass::BackwardData, x_shape, weight.shape(), params),
      [&](const crunet::cuda::DeviceBuffer& workspace) {
        cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        int count = 0;
        CRUNET_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
            handle, s.w.get(), weight.data_ptr(), s.y.get(), grad_y.data_ptr(), s.conv.get(),
            s.x.get(), grad_x.data_ptr(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, results,
            workspace.get(), workspace.size()));
        return pick(results, count, "backward-data");
      });
  CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.get(), a.math));
  crunet::cuda::DeviceBuffer workspace(grad_y.device().index(), a.workspace);
  CRUNET_CUDNN_CHECK(cudnnConvolutionBackwardData(
      handle, &kOne, s.w.get(), weight.data_ptr(), s.y.get(), grad_y.data_ptr(), s.conv.get(),
      static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), workspace.get(), workspace.size(),
      &kZero, s.x.get(), grad_x.data_ptr()));
  return grad_x;
}

Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params) {
  check_float32("conv2d backward", grad_y, "grad_y");
  check_float32("conv2d backward", x, "x");
  check_cudnn_size("conv2d backward", grad_y);
  check_cudnn_size("conv2d backward", x);
  Tensor grad_w = empty(weight_shape, TensorOptions(DType::Float32, grad_y.device()));
  crunet::cuda::DeviceGuard guard(grad_y.device());
  cudnnHandle_t handle = cudnn_handle();
  Setup s(x.shape(), weight_shape, grad_y.shape(), params);
  const Algorithm a = algorithm_for(
      make_key(Pass::BackwardFilter, x.shape(), weight_shape, params),
      [&](const crunet::cuda::DeviceBuffer& workspace) {
        cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        int count = 0;
        CRUNET_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
            handle, s.x.get(), x.data_ptr(), s.y.get(), grad_y.data_ptr(), s.conv.get(),
            s.w.get(), grad_w.data_ptr(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
            results, workspace.get(), workspace.size()));
        return pick(results, count, "backward-filter");
      });
  CRUNET_CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.get(), a.math));
  crunet::cuda::DeviceBuffer workspace(grad_y.device().index(), a.workspace);
  CRUNET_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      handle, &kOne, s.x.get(), x.data_ptr(), s.y.get(), grad_y.data_ptr(), s.conv.get(),
      static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), workspace.get(), workspace.size(),
      &kZero, s.w.get(), grad_w.data_ptr()));
  return grad_w;
}

Tensor conv2d_backward_bias(const Tensor& grad_y) {
  check_float32("conv2d backward", grad_y, "grad_y");
  check_cudnn_size("conv2d backward", grad_y);
  Tensor grad_b = empty({grad_y.size(1)}, TensorOptions(DType::Float32, grad_y.device()));
  crunet::cuda::DeviceGuard guard(grad_y.device());
  TensorDescriptor dy(grad_y.shape()), db(grad_b.shape());
  CRUNET_CUDNN_CHECK(cudnnConvolutionBackwardBias(cudnn_handle(), &kOne, dy.get(),
                                                  grad_y.data_ptr(), &kZero, db.get(),
                                                  grad_b.data_ptr()));
  return grad_b;
}

}  // namespace crunet::ops::cuda
