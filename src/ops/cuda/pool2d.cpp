// max_pool2d and avg_pool2d on CUDA. float32 through cuDNN: cudnnPoolingForward /
// cudnnPoolingBackward in CUDNN_POOLING_MAX_DETERMINISTIC (padding never wins, as PyTorch's
// -infinity; a deterministic backward) and CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING
// (count_include_pad = false), with NaNs propagated as PyTorch does. cuDNN's output size is
// floor((H + 2p - k) / s) + 1, PyTorch's default. cuDNN's max backward needs x and y: the forward
// saves x (a view, no copy) and the backward recomputes y, one cheap memory-bound pass, rather
// than keeping a second activation.
// bfloat16 (the bfloat16 precision mode) through kernels/pool2d.cu, the same semantics; the max
// forward saves the argmax as int32 positions h * W + w in each plane (the output's size in
// int32, rather than the input's in bfloat16).
#include <cstdint>

#include "../op_checks.h"
#include "../pool2d_backend.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "cudnn_common.h"
#include "pool2d.cuh"

namespace crunet::ops::cuda {
namespace {

const float kOne = 1.0f;
const float kZero = 0.0f;

class PoolingDescriptor {
 public:
  PoolingDescriptor(cudnnPoolingMode_t mode, const Pool2dParams& p) {
    CRUNET_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&descriptor_));
    const int k = static_cast<int>(p.kernel), pad = static_cast<int>(p.padding),
              s = static_cast<int>(p.stride);
    const cudnnStatus_t status =
        cudnnSetPooling2dDescriptor(descriptor_, mode, CUDNN_PROPAGATE_NAN, k, k, pad, pad, s, s);
    if (status != CUDNN_STATUS_SUCCESS) {
      cudnnDestroyPoolingDescriptor(descriptor_);
      CRUNET_CUDNN_CHECK(status);
    }
  }
  ~PoolingDescriptor() { cudnnDestroyPoolingDescriptor(descriptor_); }
  PoolingDescriptor(const PoolingDescriptor&) = delete;
  PoolingDescriptor& operator=(const PoolingDescriptor&) = delete;
  cudnnPoolingDescriptor_t get() const { return descriptor_; }

 private:
  cudnnPoolingDescriptor_t descriptor_ = nullptr;
};

void check_float32(const char* op, const Tensor& t, const char* name) {
  if (t.dtype() != DType::Float32) {
    throw NotImplementedError(std::string(op) + ": " + name + " is " + t.description() +
                              "; the CUDA backend takes float32 and bfloat16");
  }
}

Shape output_shape(const Shape& x, const Pool2dParams& p) {
  return {x[0], x[1], pool2d_output_size(x[2], p), pool2d_output_size(x[3], p)};
}

bool is_bfloat16(const Tensor& t) { return t.dtype() == DType::BFloat16; }

using Bf16 = std::uint16_t;
const Bf16* bf16_input(const Tensor& t) { return static_cast<const Bf16*>(t.data_ptr()); }
Bf16* bf16_output(const Tensor& t) { return static_cast<Bf16*>(t.data_ptr()); }

pool2d::Geometry geometry(const Shape& x, const Pool2dParams& p) {
  return {x[0] * x[1], x[2], x[3], pool2d_output_size(x[2], p), pool2d_output_size(x[3], p),
          p.kernel, p.stride, p.padding};
}

MaxPool2dForward bfloat16_max_forward(const Tensor& x, const Pool2dParams& params,
                                      bool for_backward) {
  const pool2d::Geometry g = geometry(x.shape(), params);
  if (g.h * g.w > INT32_MAX) {
    throw NotImplementedError("max_pool2d: planes of " + x.description() +
                              " are too large for int32 argmax positions");
  }
  MaxPool2dForward out;
  out.y = empty(output_shape(x.shape(), params), TensorOptions(DType::BFloat16, x.device()));
  if (for_backward) out.saved = empty(out.y.shape(), TensorOptions(DType::Int32, x.device()));
  crunet::cuda::DeviceGuard guard(x.device());
  kernels::max_pool2d_forward(bf16_input(x), bf16_output(out.y),
                              for_backward ? out.saved.data<std::int32_t>() : nullptr, g,
                              crunet::cuda::current_stream());
  return out;
}

Tensor pool_forward(const char* op, cudnnPoolingMode_t mode, const Tensor& x,
                    const Pool2dParams& params) {
  check_float32(op, x, "x");
  check_cudnn_size(op, x);
  Tensor y = empty(output_shape(x.shape(), params), TensorOptions(DType::Float32, x.device()));
  crunet::cuda::DeviceGuard guard(x.device());
  PoolingDescriptor pd(mode, params);
  TensorDescriptor xd(x.shape()), yd(y.shape());
  CRUNET_CUDNN_CHECK(cudnnPoolingForward(cudnn_handle(), pd.get(), &kOne, xd.get(), x.data_ptr(),
                                         &kZero, yd.get(), y.data_ptr()));
  return y;
}

}  // namespace

MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params,
                                    bool for_backward) {
  if (is_bfloat16(x)) return bfloat16_max_forward(x, params, for_backward);
  MaxPool2dForward out;
  out.y = pool_forward("max_pool2d", CUDNN_POOLING_MAX_DETERMINISTIC, x, params);
  if (for_backward) out.saved = x.detach();
  return out;
}

Tensor max_pool2d_backward(const Tensor& grad_y, const Tensor& saved, const Shape& x_shape,
                           const Pool2dParams& params) {
  if (is_bfloat16(grad_y)) {
    if (!saved.defined() || saved.dtype() != DType::Int32 || saved.shape() != grad_y.shape() ||
        saved.device() != grad_y.device()) {
      fail("max_pool2d backward", "the saved argmax is missing or does not match grad_y " +
                                      grad_y.description() + " (got " + saved.description() + ")");
    }
    Tensor grad_x = empty(x_shape, TensorOptions(DType::BFloat16, grad_y.device()));
    crunet::cuda::DeviceGuard guard(grad_y.device());
    kernels::max_pool2d_backward(bf16_input(grad_y), saved.data<std::int32_t>(),
                                 bf16_output(grad_x), geometry(x_shape, params),
                                 crunet::cuda::current_stream());
    return grad_x;
  }
  check_float32("max_pool2d backward", grad_y, "grad_y");
  if (!saved.defined() || saved.shape() != x_shape || !saved.device().is_cuda()) {
    fail("max_pool2d backward", "the saved input is missing or is not x " + shape_str(x_shape) +
                                    " on the GPU (got " + saved.description() + ")");
  }
  const Tensor y = pool_forward("max_pool2d backward", CUDNN_POOLING_MAX_DETERMINISTIC, saved,
                                params);
  Tensor grad_x = empty(x_shape, TensorOptions(DType::Float32, grad_y.device()));
  crunet::cuda::DeviceGuard guard(grad_y.device());
  PoolingDescriptor pd(CUDNN_POOLING_MAX_DETERMINISTIC, params);
  TensorDescriptor xd(x_shape), yd(grad_y.shape());
  CRUNET_CUDNN_CHECK(cudnnPoolingBackward(cudnn_handle(), pd.get(), &kOne, yd.get(), y.data_ptr(),
                                          yd.get(), grad_y.data_ptr(), xd.get(), saved.data_ptr(),
                                          &kZero, xd.get(), grad_x.data_ptr()));
  return grad_x;
}

Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params) {
  if (is_bfloat16(x)) {
    Tensor y = empty(output_shape(x.shape(), params), TensorOptions(DType::BFloat16, x.device()));
    crunet::cuda::DeviceGuard guard(x.device());
    kernels::avg_pool2d_forward(bf16_input(x), bf16_output(y), geometry(x.shape(), params),
                                crunet::cuda::current_stream());
    return y;
  }
  return pool_forward("avg_pool2d", CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, x, params);
}

Tensor avg_pool2d_backward(const Tensor& grad_y, const Shape& x_shape, const Pool2dParams& params) {
  if (is_bfloat16(grad_y)) {
    Tensor grad_x = empty(x_shape, TensorOptions(DType::BFloat16, grad_y.device()));
    crunet::cuda::DeviceGuard guard(grad_y.device());
    kernels::avg_pool2d_backward(bf16_input(grad_y), bf16_output(grad_x),
                                 geometry(x_shape, params), crunet::cuda::current_stream());
    return grad_x;
  }
  check_float32("avg_pool2d backward", grad_y, "grad_y");
  check_cudnn_size("avg_pool2d backward", grad_y);
  Tensor grad_x = empty(x_shape, TensorOptions(DType::Float32, grad_y.device()));
  check_cudnn_size("avg_pool2d backward", grad_x);
  crunet::cuda::DeviceGuard guard(grad_y.device());
  cudaStream_t stream = crunet::cuda::current_stream();
  // The average's gradient depends on neither x nor y, but the call takes both: grad_y stands in
  // for y (same shape), and x is a zeroed scratch buffer rather than an alias of grad_x.
  crunet::cuda::DeviceBuffer x_stand_in(grad_y.device().index(), grad_x.nbytes());
  CRUNET_CUDA_CHECK(cudaMemsetAsync(x_stand_in.get(), 0, x_stand_in.size(), stream));
  PoolingDescriptor pd(CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, params);
  TensorDescriptor xd(x_shape), yd(grad_y.shape());
  CRUNET_CUDNN_CHECK(cudnnPoolingBackward(cudnn_handle(), pd.get(), &kOne, yd.get(),
                                          grad_y.data_ptr(), yd.get(), grad_y.data_ptr(), xd.get(),
                                          x_stand_in.get(), &kZero, xd.get(), grad_x.data_ptr()));
  return grad_x;
}

}  // namespace crunet::ops::cuda
