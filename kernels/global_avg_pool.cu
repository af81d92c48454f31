// global_avg_pool on CUDA: y[n, c] = mean of the H*W plane x[n, c]. Forward: one warp per plane
// (planes are contiguous in NCHW), lanes stride through it with coalesced loads and a shuffle
// reduction ends in lane 0; the head's planes are small (7x7 at 224, 8x8 at 32), so a warp rather
// than a block keeps every lane busy. Backward: a grid-stride loop writes grad_y[n, c] / (H*W)
// into each element of its plane. int64 indices; float32 and bfloat16 storage, float32 sums.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/global_avg_pool_backend.h"
#include "ops/op_checks.h"

namespace crunet::ops::cuda {
namespace {

constexpr int kWarpsPerBlock = kernels::kThreads / 32;

template <typename T>
__global__ void plane_mean_kernel(const T* d_x, T* d_y, std::int64_t planes, std::int64_t area) {
  const int lane = threadIdx.x % 32;
  const std::int64_t first = blockIdx.x * static_cast<std::int64_t>(kWarpsPerBlock) + threadIdx.x / 32;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t p = first; p < planes; p += step) {
    const std::int64_t base = p * area;
    float sum = 0.0f;
    for (std::int64_t i = lane; i < area; i += 32) sum += kernels::load_value(d_x, base + i);
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) kernels::store_value(d_y, p, sum / static_cast<float>(area));
  }
}

template <typename T>
__global__ void spread_kernel(const T* d_grad_y, T* d_grad_x, std::int64_t area,
                              std::int64_t count) {
  const float scale = 1.0f / static_cast<float>(area);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    kernels::store_value(d_grad_x, i, kernels::load_value(d_grad_y, i / area) * scale);
  }
}

void check_supported(const char* op, const Tensor& t, const char* name) {
  if (t.dtype() != DType::Float32 && t.dtype() != DType::BFloat16) {
    fail(op, std::string(name) + " is " + t.description() +
                 "; the CUDA backend supports float32 and bfloat16");
  }
}

}  // namespace

Tensor global_avg_pool_forward(const Tensor& x) {
  check_supported("global_avg_pool", x, "x");
  const std::int64_t planes = x.size(0) * x.size(1);
  const std::int64_t area = x.size(2) * x.size(3);
  Tensor y = empty({x.size(0), x.size(1)}, TensorOptions(x.dtype(), x.device()));
  if (planes == 0) return y;
  crunet::cuda::DeviceGuard guard(x.device());
  const unsigned blocks = kernels::blocks_for(planes, kWarpsPerBlock);
  cudaStream_t stream = crunet::cuda::current_stream();
  if (x.dtype() == DType::Float32) {
    plane_mean_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const float*>(x.data_ptr()), static_cast<float*>(y.data_ptr()), planes, area);
  } else {
    plane_mean_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const std::uint16_t*>(x.data_ptr()), static_cast<std::uint16_t*>(y.data_ptr()),
        planes, area);
  }
  CRUNET_CUDA_CHECK_LAUNCH("plane_mean_kernel");
  return y;
}

Tensor global_avg_pool_backward(const Tensor& grad_y, const Shape& x_shape) {
  check_supported("global_avg_pool backward", grad_y, "grad_y");
  const std::int64_t area = x_shape[2] * x_shape[3];
  Tensor grad_x = empty(x_shape, TensorOptions(grad_y.dtype(), grad_y.device()));
  const std::int64_t count = grad_x.numel();
  if (count == 0) return grad_x;
  crunet::cuda::DeviceGuard guard(grad_y.device());
  const unsigned blocks = kernels::blocks_for(count);
  cudaStream_t stream = crunet::cuda::current_stream();
  if (grad_y.dtype() == DType::Float32) {
    spread_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const float*>(grad_y.data_ptr()), static_cast<float*>(grad_x.data_ptr()), area,
        count);
  } else {
    spread_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const std::uint16_t*>(grad_y.data_ptr()),
        static_cast<std::uint16_t*>(grad_x.data_ptr()), area, count);
  }
  CRUNET_CUDA_CHECK_LAUNCH("spread_kernel");
  return grad_x;
}

}  // namespace crunet::ops::cuda
