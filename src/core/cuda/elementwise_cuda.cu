// In-place updates for gradient accumulation and the optimiser: dst += alpha * src, dst *= factor.
// One grid-stride loop each with int64 indices; purely memory-bound, so the work per element is
// one load (two for add) and one store, coalesced across the warp. Values are computed in float32
// whatever the storage type.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "elementwise_cuda.h"

namespace crunet::cuda {
namespace {

template <typename T>
__global__ void add_scaled_kernel(T* d_dst, const T* d_src, float alpha, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    kernels::store_value(d_dst, i, kernels::load_value(d_dst, i) + alpha * kernels::load_value(d_src, i));
  }
}

template <typename T>
__global__ void scale_kernel(T* d_dst, float factor, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    kernels::store_value(d_dst, i, kernels::load_value(d_dst, i) * factor);
  }
}

void check_supported(const Tensor& t, const char* op) {
  if (t.dtype() != DType::Float32 && t.dtype() != DType::BFloat16) {
    throw NotImplementedError(std::string(op) + " on " + t.description() +
                              ": the CUDA backend supports float32 and bfloat16");
  }
}

}  // namespace

void add_inplace(const Tensor& dst, const Tensor& src, float alpha) {
  check_supported(dst, "add_inplace");
  const std::int64_t count = dst.numel();
  if (count == 0) return;
  DeviceGuard guard(dst.device());
  const unsigned blocks = kernels::blocks_for(count);
  if (dst.dtype() == DType::Float32) {
    add_scaled_kernel<<<blocks, kernels::kThreads, 0, current_stream()>>>(
        static_cast<float*>(dst.data_ptr()), static_cast<const float*>(src.data_ptr()), alpha, count);
  } else {
    add_scaled_kernel<<<blocks, kernels::kThreads, 0, current_stream()>>>(
        static_cast<std::uint16_t*>(dst.data_ptr()),
        static_cast<const std::uint16_t*>(src.data_ptr()), alpha, count);
  }
  CRUNET_CUDA_CHECK_LAUNCH("add_scaled_kernel");
}

void scale_inplace(const Tensor& dst, float factor) {
  check_supported(dst, "scale_inplace");
  const std::int64_t count = dst.numel();
  if (count == 0) return;
  DeviceGuard guard(dst.device());
  const unsigned blocks = kernels::blocks_for(count);
  if (dst.dtype() == DType::Float32) {
    scale_kernel<<<blocks, kernels::kThreads, 0, current_stream()>>>(
        static_cast<float*>(dst.data_ptr()), factor, count);
  } else {
    scale_kernel<<<blocks, kernels::kThreads, 0, current_stream()>>>(
        static_cast<std::uint16_t*>(dst.data_ptr()), factor, count);
  }
  CRUNET_CUDA_CHECK_LAUNCH("scale_kernel");
}

}  // namespace crunet::cuda
