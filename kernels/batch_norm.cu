// batch_norm's kernels beside cuDNN (src/ops/cuda/batch_norm.cpp). For float32 they cover what
// cuDNN lacks: the conversion between cuDNN's saved inverse std and the variance the backend
// contract keeps, and the evaluation-mode backward (cuDNN's backward always differentiates through
// the batch statistics). For bfloat16 activations they are the whole op, since cuDNN's legacy
// batch norm is not documented for bfloat16 (PyTorch, too, keeps bfloat16 off it).
// Per-channel reductions (statistics, backward sums): one block per channel (grid-strided); its
// threads walk the channel's N*H*W values plane by plane (each plane contiguous, so a warp's loads
// coalesce), keep float partial sums and meet in a shared-memory tree; no atomics, so the results
// are deterministic. The statistics take two passes (the mean, then the centred squares), as the
// CPU reference does: no cancellation for channels whose mean is large against their spread.
// Elementwise passes (normalise, grad_x): grid-stride loops with int64 indices,
// channel = (i / area) % C.
#include "batch_norm.cuh"
#include "common.cuh"
#include "core/cuda/cuda_check.h"

namespace crunet::kernels {
namespace {

// The sum of one value per thread over the block, in a fixed order; every thread gets it.
// blockDim.x must be kThreads (a power of two), the size of d_shared.
__device__ float block_sum(float value, float* d_shared) {
  d_shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) d_shared[threadIdx.x] += d_shared[threadIdx.x + half];
    __syncthreads();
  }
  const float total = d_shared[0];
  __syncthreads();  // everyone has read d_shared[0] before the next call writes it
  return total;
}

__global__ void invstd_to_var_kernel(const float* d_invstd, float* d_var, std::int64_t channels,
                                     float eps) {
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       c < channels; c += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float s = d_invstd[c];
    d_var[c] = fmaxf(1.0f / (s * s) - eps, 0.0f);
  }
}

__global__ void var_to_invstd_kernel(const float* d_var, float* d_invstd, std::int64_t channels,
                                     float eps) {
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       c < channels; c += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    d_invstd[c] = 1.0f / sqrtf(d_var[c] + eps);
  }
}

template <typename T>
__global__ void batch_statistics_kernel(const T* d_x, float* d_mean, float* d_var,
                                        float* d_running_mean, float* d_running_var,
                                        float momentum, std::int64_t batch, std::int64_t channels,
                                        std::int64_t area) {
  __shared__ float shared[kThreads];
  const std::int64_t count = batch * area;
  for (std::int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    float sum = 0.0f;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t base = (n * channels + c) * area;
      for (std::int64_t i = threadIdx.x; i < area; i += blockDim.x) sum += load_value(d_x, base + i);
    }
    const float mean = block_sum(sum, shared) / static_cast<float>(count);
    float squares = 0.0f;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t base = (n * channels + c) * area;
      for (std::int64_t i = threadIdx.x; i < area; i += blockDim.x) {
        const float centred = load_value(d_x, base + i) - mean;
        squares += centred * centred;
      }
    }
    const float var = block_sum(squares, shared) / static_cast<float>(count);
    if (threadIdx.x == 0) {
      d_mean[c] = mean;
      d_var[c] = var;
      if (d_running_mean != nullptr) {
        const float unbias = static_cast<float>(count) / static_cast<float>(count - 1);
        d_running_mean[c] = (1.0f - momentum) * d_running_mean[c] + momentum * mean;
        d_running_var[c] = (1.0f - momentum) * d_running_var[c] + momentum * var * unbias;
      }
    }
  }
}

template <typename T>
__global__ void normalize_kernel(const T* d_x, const float* d_mean, const float* d_invstd,
                                 const float* d_weight, const float* d_bias, T* d_y,
                                 std::int64_t channels, std::int64_t area, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = (i / area) % channels;
    const float w = d_weight ? d_weight[c] : 1.0f;
    const float b = d_bias ? d_bias[c] : 0.0f;
    store_value(d_y, i, (load_value(d_x, i) - d_mean[c]) * d_invstd[c] * w + b);
  }
}

template <typename T>
__global__ void channel_sums_kernel(const T* d_dy, const T* d_x, const float* d_mean,
                                    const float* d_invstd, float* d_sum_dy, float* d_sum_dy_xhat,
                                    std::int64_t batch, std::int64_t channels, std::int64_t area) {
  __shared__ float shared[kThreads];
  const bool with_xhat = d_sum_dy_xhat != nullptr;
  for (std::int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    const float mean = with_xhat ? d_mean[c] : 0.0f;
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t base = (n * channels + c) * area;
      for (std::int64_t i = threadIdx.x; i < area; i += blockDim.x) {
        const float dy = load_value(d_dy, base + i);
        sum_dy += dy;
        if (with_xhat) sum_dy_xhat += dy * (load_value(d_x, base + i) - mean);
      }
    }
    sum_dy = block_sum(sum_dy, shared);
    sum_dy_xhat = block_sum(sum_dy_xhat, shared);
    if (threadIdx.x == 0) {
      d_sum_dy[c] = sum_dy;
      if (with_xhat) d_sum_dy_xhat[c] = sum_dy_xhat * d_invstd[c];
    }
  }
}

template <typename T>
__global__ void backward_data_kernel(const T* d_dy, const T* d_x, const float* d_mean,
                                     const float* d_invstd, const float* d_weight,
                                     const float* d_sum_dy, const float* d_sum_dy_xhat, T* d_dx,
                                     std::int64_t channels, std::int64_t area, std::int64_t count,
                                     float m) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = (i / area) % channels;
    const float invstd = d_invstd[c];
    const float w = d_weight ? d_weight[c] : 1.0f;
    const float xhat = (load_value(d_x, i) - d_mean[c]) * invstd;
    store_value(d_dx, i,
                w * invstd / m * (m * load_value(d_dy, i) - d_sum_dy[c] - xhat * d_sum_dy_xhat[c]));
  }
}

template <typename T>
__global__ void scale_grad_kernel(const T* d_dy, const float* d_weight, const float* d_invstd,
                                  T* d_dx, std::int64_t channels, std::int64_t area,
                                  std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = (i / area) % channels;
    const float w = d_weight ? d_weight[c] : 1.0f;
    store_value(d_dx, i, w * d_invstd[c] * load_value(d_dy, i));
  }
}

unsigned channel_blocks(std::int64_t channels) {
  return static_cast<unsigned>(channels < 65536 ? channels : 65536);
}

}  // namespace

void bn_invstd_to_var(const float* d_invstd, float* d_var, std::int64_t channels, float eps,
                      cudaStream_t stream) {
  if (channels == 0) return;
  invstd_to_var_kernel<<<blocks_for(channels), kThreads, 0, stream>>>(d_invstd, d_var, channels,
                                                                      eps);
  CRUNET_CUDA_CHECK_LAUNCH("invstd_to_var_kernel");
}

void bn_var_to_invstd(const float* d_var, float* d_invstd, std::int64_t channels, float eps,
                      cudaStream_t stream) {
  if (channels == 0) return;
  var_to_invstd_kernel<<<blocks_for(channels), kThreads, 0, stream>>>(d_var, d_invstd, channels,
                                                                      eps);
  CRUNET_CUDA_CHECK_LAUNCH("var_to_invstd_kernel");
}

template <typename T>
void bn_batch_statistics(const T* d_x, float* d_mean, float* d_var, float* d_running_mean,
                         float* d_running_var, float momentum, std::int64_t batch,
                         std::int64_t channels, std::int64_t area, cudaStream_t stream) {
  if (channels == 0) return;
  batch_statistics_kernel<<<channel_blocks(channels), kThreads, 0, stream>>>(
      d_x, d_mean, d_var, d_running_mean, d_running_var, momentum, batch, channels, area);
  CRUNET_CUDA_CHECK_LAUNCH("batch_statistics_kernel");
}

template <typename T>
void bn_normalize(const T* d_x, const float* d_mean, const float* d_invstd, const float* d_weight,
                  const float* d_bias, T* d_y, std::int64_t batch, std::int64_t channels,
                  std::int64_t area, cudaStream_t stream) {
  const std::int64_t count = batch * channels * area;
  if (count == 0) return;
  normalize_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_x, d_mean, d_invstd, d_weight,
                                                               d_bias, d_y, channels, area, count);
  CRUNET_CUDA_CHECK_LAUNCH("normalize_kernel");
}

template <typename T>
void bn_channel_sums(const T* d_dy, const T* d_x, const float* d_mean, const float* d_invstd,
                     float* d_sum_dy, float* d_sum_dy_xhat, std::int64_t batch,
                     std::int64_t channels, std::int64_t area, cudaStream_t stream) {
  if (channels == 0) return;
  channel_sums_kernel<<<channel_blocks(channels), kThreads, 0, stream>>>(
      d_dy, d_x, d_mean, d_invstd, d_sum_dy, d_sum_dy_xhat, batch, channels, area);
  CRUNET_CUDA_CHECK_LAUNCH("channel_sums_kernel");
}

template <typename T>
void bn_backward_data(const T* d_dy, const T* d_x, const float* d_mean, const float* d_invstd,
                      const float* d_weight, const float* d_sum_dy, const float* d_sum_dy_xhat,
                      T* d_dx, std::int64_t batch, std::int64_t channels, std::int64_t area,
                      cudaStream_t stream) {
  const std::int64_t count = batch * channels * area;
  if (count == 0) return;
  backward_data_kernel<<<blocks_for(count), kThreads, 0, stream>>>(
      d_dy, d_x, d_mean, d_invstd, d_weight, d_sum_dy, d_sum_dy_xhat, d_dx, channels, area, count,
      static_cast<float>(batch * area));
  CRUNET_CUDA_CHECK_LAUNCH("backward_data_kernel");
}

template <typename T>
void bn_scale_grad(const T* d_dy, const float* d_weight, const float* d_invstd, T* d_dx,
                   std::int64_t batch, std::int64_t channels, std::int64_t area,
                   cudaStream_t stream) {
  const std::int64_t count = batch * channels * area;
  if (count == 0) return;
  scale_grad_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_dy, d_weight, d_invstd, d_dx,
                                                                channels, area, count);
  CRUNET_CUDA_CHECK_LAUNCH("scale_grad_kernel");
}

// The two storage types: float32, and bfloat16 as its 16 bits.
using Bf16 = std::uint16_t;
using I64 = std::int64_t;
template void bn_batch_statistics<float>(const float*, float*, float*, float*, float*, float, I64,
                                         I64, I64, cudaStream_t);
template void bn_batch_statistics<Bf16>(const Bf16*, float*, float*, float*, float*, float, I64,
                                        I64, I64, cudaStream_t);
template void bn_normalize<float>(const float*, const float*, const float*, const float*,
                                  const float*, float*, I64, I64, I64, cudaStream_t);
template void bn_normalize<Bf16>(const Bf16*, const float*, const float*, const float*,
                                 const float*, Bf16*, I64, I64, I64, cudaStream_t);
template void bn_channel_sums<float>(const float*, const float*, const float*, const float*, float*,
                                     float*, I64, I64, I64, cudaStream_t);
template void bn_channel_sums<Bf16>(const Bf16*, const Bf16*, const float*, const float*, float*,
                                    float*, I64, I64, I64, cudaStream_t);
template void bn_backward_data<float>(const float*, const float*, const float*, const float*,
                                      const float*, const float*, const float*, float*, I64, I64,
                                      I64, cudaStream_t);
template void bn_backward_data<Bf16>(const Bf16*, const Bf16*, const float*, const float*,
                                     const float*, const float*, const float*, Bf16*, I64, I64,
                                     I64, cudaStream_t);
template void bn_scale_grad<float>(const float*, const float*, const float*, float*, I64, I64, I64,
                                   cudaStream_t);
template void bn_scale_grad<Bf16>(const Bf16*, const float*, const float*, Bf16*, I64, I64, I64,
                                  cudaStream_t);

}  // namespace crunet::kernels
