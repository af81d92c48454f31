// add on CUDA: out = a + b for two tensors of one shape (the residual sum of every unit). A
// grid-stride loop with int64 indices; memory-bound, two coalesced loads and one store per
// element. The backward is the identity and needs no kernel. float32 and bfloat16 storage.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/add_backend.h"
#include "ops/op_checks.h"

namespace crunet::ops::cuda {
namespace {

template <typename T>
__global__ void add_kernel(const T* d_a, const T* d_b, T* d_out, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    kernels::store_value(d_out, i, kernels::load_value(d_a, i) + kernels::load_value(d_b, i));
  }
}

}  // namespace

Tensor add_forward(const Tensor& a, const Tensor& b) {
  if (a.dtype() != DType::Float32 && a.dtype() != DType::BFloat16) {
    fail("add", "a is " + a.description() + "; the CUDA backend supports float32 and bfloat16");
  }
  Tensor out = empty_like(a);
  const std::int64_t count = a.numel();
  if (count == 0) return out;
  crunet::cuda::DeviceGuard guard(a.device());
  const unsigned blocks = kernels::blocks_for(count);
  cudaStream_t stream = crunet::cuda::current_stream();
  if (a.dtype() == DType::Float32) {
    add_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const float*>(a.data_ptr()), static_cast<const float*>(b.data_ptr()),
        static_cast<float*>(out.data_ptr()), count);
  } else {
    add_kernel<<<blocks, kernels::kThreads, 0, stream>>>(
        static_cast<const std::uint16_t*>(a.data_ptr()),
        static_cast<const std::uint16_t*>(b.data_ptr()),
        static_cast<std::uint16_t*>(out.data_ptr()), count);
  }
  CRUNET_CUDA_CHECK_LAUNCH("add_kernel");
  return out;
}

}  // namespace crunet::ops::cuda
