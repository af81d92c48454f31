// batch_norm's kernels beside cuDNN (src/ops/cuda/batch_norm.cpp), for what cuDNN lacks: the
// conversion between cuDNN's saved inverse std and the variance the backend contract keeps, and
// the evaluation-mode backward (cuDNN's backward always differentiates through batch statistics).
// bn_channel_sums: one block per channel (grid-strided); its threads walk the channel's N*H*W
// values plane by plane (each plane contiguous, so a warp's loads coalesce), keep float partial
// sums and meet in a shared-memory tree; no atomics, so the sums are deterministic.
// bn_scale_grad: a grid-stride loop with int64 indices, channel = (i / area) % C.
#include "batch_norm.cuh"
#include "common.cuh"
#include "core/cuda/cuda_check.h"

namespace crunet::kernels {
namespace {

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

__global__ void channel_sums_kernel(const float* d_dy, const float* d_x, const float* d_mean,
                                    const float* d_invstd, float* d_sum_dy, float* d_sum_dy_xhat,
                                    std::int64_t batch, std::int64_t channels, std::int64_t area) {
  __shared__ float shared_dy[kThreads];
  __shared__ float shared_dy_xhat[kThreads];
  const bool with_xhat = d_sum_dy_xhat != nullptr;
  for (std::int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    const float mean = with_xhat ? d_mean[c] : 0.0f;
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t base = (n * channels + c) * area;
      for (std::int64_t i = threadIdx.x; i < area; i += blockDim.x) {
        const float dy = d_dy[base + i];
        sum_dy += dy;
        if (with_xhat) sum_dy_xhat += dy * (d_x[base + i] - mean);
      }
    }
    shared_dy[threadIdx.x] = sum_dy;
    shared_dy_xhat[threadIdx.x] = sum_dy_xhat;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) {
        shared_dy[threadIdx.x] += shared_dy[threadIdx.x + half];
        shared_dy_xhat[threadIdx.x] += shared_dy_xhat[threadIdx.x + half];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      d_sum_dy[c] = shared_dy[0];
      if (with_xhat) d_sum_dy_xhat[c] = shared_dy_xhat[0] * d_invstd[c];
    }
    __syncthreads();
  }
}

__global__ void scale_grad_kernel(const float* d_dy, const float* d_weight, const float* d_invstd,
                                  float* d_dx, std::int64_t channels, std::int64_t area,
                                  std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = (i / area) % channels;
    const float w = d_weight ? d_weight[c] : 1.0f;
    d_dx[i] = w * d_invstd[c] * d_dy[i];
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

void bn_channel_sums(const float* d_dy, const float* d_x, const float* d_mean,
                     const float* d_invstd, float* d_sum_dy, float* d_sum_dy_xhat,
                     std::int64_t batch, std::int64_t channels, std::int64_t area,
                     cudaStream_t stream) {
  if (channels == 0) return;
  channel_sums_kernel<<<channel_blocks(channels), kThreads, 0, stream>>>(
      d_dy, d_x, d_mean, d_invstd, d_sum_dy, d_sum_dy_xhat, batch, channels, area);
  CRUNET_CUDA_CHECK_LAUNCH("channel_sums_kernel");
}

void bn_scale_grad(const float* d_dy, const float* d_weight, const float* d_invstd, float* d_dx,
                   std::int64_t batch, std::int64_t channels, std::int64_t area,
                   cudaStream_t stream) {
  const std::int64_t count = batch * channels * area;
  if (count == 0) return;
  scale_grad_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_dy, d_weight, d_invstd, d_dx,
                                                                channels, area, count);
  CRUNET_CUDA_CHECK_LAUNCH("scale_grad_kernel");
}

}  // namespace crunet::kernels
