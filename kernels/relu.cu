// relu on CUDA: y = max(x, 0) and grad_x = grad_y where y > 0. One grid-stride loop per direction
// with int64 indices; memory-bound, one or two coalesced loads and one store per element. The
// backward reads y, not x, so that autograd keeps only the output (as the CPU op does). float32
// and bfloat16 storage; arithmetic in float32.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/op_checks.h"
#include "ops/relu_backend.h"

namespace crunet::ops::cuda {
namespace {

template <typename T>
__global__ void relu_forward_kernel(const T* d_x, T* d_y, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float v = kernels::load_value(d_x, i);
    kernels::store_value(d_y, i, v > 0.0f ? v : 0.0f);
  }
}

template <typename T>
__global__ void relu_backward_kernel(const T* d_grad_y, const T* d_y, T* d_grad_x,
                                     std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    kernels::store_value(d_grad_x, i,
                         kernels::load_value(d_y, i) > 0.0f ? kernels::load_value(d_grad_y, i) : 0.0f);
  }
}

void check_supported(const char* op, const Tensor& t, const char* name) {
  if (t.dtype() != DType::Float32 && t.dtype() != DType::BFloat16) {
    fail(op, std::string(name) + " is " + t.description() +
                 "; the CUDA backend supports float32 and bfloat16");
  }
}

}  // namespace

Tensor relu_forward(const Tensor& x) {
  check_supported("relu", x, "x");
  Tensor y = empty_like(x);
  const std::int64_t count = x.numel();
  if (count == 0) return y;
  crunet::cuda::DeviceGuard guard(x.device());
  const unsigned blocks = kernels::blocks_for(count);
  cudaStream_t stream = crunet::cuda::current_stream();
  if (x.dtype() == DType::Float32) {
    relu_forward_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const float*>(x.data_ptr()), static_cast<float*>(y.data_ptr()), count);
  } else {
    relu_forward_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const std::uint16_t*>(x.data_ptr()), static_cast<std::uint16_t*>(y.data_ptr()),
        count);
  }
  CRUNET_CUDA_CHECK_LAUNCH("relu_forward_kernel");
  return y;
}

Tensor relu_backward(const Tensor& grad_y, const Tensor& y) {
  check_same_shape("relu backward", grad_y, "grad_y", y, "y");
  check_same_dtype("relu backward", grad_y, "grad_y", y, "y");
  check_supported("relu backward", y, "y");
  Tensor grad_x = empty_like(y);
  const std::int64_t count = y.numel();
  if (count == 0) return grad_x;
  crunet::cuda::DeviceGuard guard(y.device());
  const unsigned blocks = kernels::blocks_for(count);
  cudaStream_t stream = crunet::cuda::current_stream();
  if (y.dtype() == DType::Float32) {
    relu_backward_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const float*>(grad_y.data_ptr()), static_cast<const float*>(y.data_ptr()),
        static_cast<float*>(grad_x.data_ptr()), count);
  } else {
    relu_backward_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const std::uint16_t*>(grad_y.data_ptr()),
        static_cast<const std::uint16_t*>(y.data_ptr()),
        static_cast<std::uint16_t*>(grad_x.data_ptr()), count);
  }
  CRUNET_CUDA_CHECK_LAUNCH("relu_backward_kernel");
  return grad_x;
}

}  // namespace crunet::ops::cuda
