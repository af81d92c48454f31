// cast on CUDA: float32 <-> bfloat16, one grid-stride loop with int64 indices. Memory-bound: one
// coalesced load and one store per element. The float32 -> bfloat16 store is common.cuh's
// store_value, the same round-to-nearest-even (NaN kept a quiet NaN) as the CPU's
// float_to_bfloat16_bits, so both backends give identical bits.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cast_backend.h"
#include "ops/op_checks.h"

namespace crunet::ops::cuda {
namespace {

template <typename In, typename Out>
__global__ void cast_kernel(const In* d_x, Out* d_y, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    kernels::store_value(d_y, i, kernels::load_value(d_x, i));
  }
}

}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  const bool to_bfloat16 = x.dtype() == DType::Float32 && dtype == DType::BFloat16;
  const bool to_float32 = x.dtype() == DType::BFloat16 && dtype == DType::Float32;
  if (!to_bfloat16 && !to_float32) {
    fail("cast", std::string("no conversion from ") + x.description() + " to " + dtype_name(dtype));
  }
  Tensor y = empty(x.shape(), TensorOptions(dtype, x.device()));
  const std::int64_t count = x.numel();
  if (count == 0) return y;
  crunet::cuda::DeviceGuard guard(x.device());
  const unsigned blocks = kernels::blocks_for(count);
  cudaStream_t stream = crunet::cuda::current_stream();
  if (to_bfloat16) {
    cast_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const float*>(x.data_ptr()), static_cast<std::uint16_t*>(y.data_ptr()), count);
  } else {
    cast_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const std::uint16_t*>(x.data_ptr()), static_cast<float*>(y.data_ptr()), count);
  }
  CRUNET_CUDA_CHECK_LAUNCH("cast_kernel");
  return y;
}

}  // namespace crunet::ops::cuda
