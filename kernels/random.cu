// Random fills on the device: one thread per group of four consecutive elements (grid-stride,
// int64 indices) computes one Philox4x32-10 block (core/cuda/philox.h) and writes the group's
// four values, normal (Box-Muller) or uniform, scaled and shifted, as float32 or bfloat16. The
// value of element i depends only on (seed, fill, i), so any launch configuration gives the same
// tensor. Compute-bound only in principle: ten multiply rounds per four elements are cheap next
// to the stores.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/philox.h"
#include "core/cuda/random_cuda.h"

namespace crunet::cuda {
namespace {

template <typename T>
__global__ void philox_fill_kernel(T* d_out, std::int64_t count, std::uint64_t seed,
                                   std::uint64_t fill, bool normal, float scale, float shift) {
  const std::int64_t groups = (count + 3) / 4;
  for (std::int64_t g = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       g < groups; g += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float values[4];
    if (normal) {
      philox::normal4(seed, fill, static_cast<std::uint64_t>(g), values);
    } else {
      philox::uniform4(seed, fill, static_cast<std::uint64_t>(g), values);
    }
    for (int j = 0; j < 4; ++j) {
      const std::int64_t i = 4 * g + j;
      if (i < count) kernels::store_value(d_out, i, scale * values[j] + shift);
    }
  }
}

}  // namespace

void philox_fill(const Tensor& t, std::uint64_t seed, std::uint64_t fill, bool normal, float scale,
                 float shift) {
  const std::int64_t count = t.numel();
  if (count == 0) return;
  DeviceGuard guard(t.device());
  const unsigned blocks = kernels::blocks_for((count + 3) / 4);
  if (t.dtype() == DType::Float32) {
    philox_fill_kernel<<<blocks, kernels::kThreads, 0, current_stream()>>>(
        static_cast<float*>(t.data_ptr()), count, seed, fill, normal, scale, shift);
  } else {
    philox_fill_kernel<<<blocks, kernels::kThreads, 0, current_stream()>>>(
        static_cast<std::uint16_t*>(t.data_ptr()), count, seed, fill, normal, scale, shift);
  }
  CRUNET_CUDA_CHECK_LAUNCH("philox_fill_kernel");
}

}  // namespace crunet::cuda
