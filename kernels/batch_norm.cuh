#pragma once
// batch_norm's custom kernels (kernels/batch_norm.cu): what cuDNN's batch norm does not cover, and
// the whole bfloat16 path. x, dy and dx are contiguous NCHW, `batch` planes of `channels` channels
// of `area` = H*W values, stored as T: float, or std::uint16_t holding bfloat16 bits. Statistics,
// weights, biases and per-channel sums are always float32; arithmetic is float32.
#include <cstdint>

#include <cuda_runtime_api.h>

namespace crunet::kernels {

// var[c] = 1 / invstd[c]^2 - eps: cuDNN saves invstd = 1 / sqrt(var + eps); the backend keeps var.
void bn_invstd_to_var(const float* d_invstd, float* d_var, std::int64_t channels, float eps,
                      cudaStream_t stream);
// invstd[c] = 1 / sqrt(var[c] + eps).
void bn_var_to_invstd(const float* d_var, float* d_invstd, std::int64_t channels, float eps,
                      cudaStream_t stream);

// Training statistics per channel over N, H, W (count = batch * area > 1): mean[c], the biased
// var[c]; and, when d_running_mean is not null, the in-place running update
// running = (1 - momentum) * running + momentum * batch value, with the unbiased variance.
template <typename T>
void bn_batch_statistics(const T* d_x, float* d_mean, float* d_var, float* d_running_mean,
                         float* d_running_var, float momentum, std::int64_t batch,
                         std::int64_t channels, std::int64_t area, cudaStream_t stream);

// y = (x - mean[c]) * invstd[c] * weight[c] + bias[c] (weight null: 1, bias null: 0).
template <typename T>
void bn_normalize(const T* d_x, const float* d_mean, const float* d_invstd, const float* d_weight,
                  const float* d_bias, T* d_y, std::int64_t batch, std::int64_t channels,
                  std::int64_t area, cudaStream_t stream);

// Per channel, over N, H, W: sum_dy[c] = sum dy; and, when d_sum_dy_xhat is not null,
// sum_dy_xhat[c] = sum dy * (x - mean[c]) * invstd[c].
template <typename T>
void bn_channel_sums(const T* d_dy, const T* d_x, const float* d_mean, const float* d_invstd,
                     float* d_sum_dy, float* d_sum_dy_xhat, std::int64_t batch,
                     std::int64_t channels, std::int64_t area, cudaStream_t stream);

// Training-mode grad_x through the batch statistics, with m = batch * area and
// xhat = (x - mean[c]) * invstd[c]:
//   dx = weight[c] * invstd[c] / m * (m * dy - sum_dy[c] - xhat * sum_dy_xhat[c]).
template <typename T>
void bn_backward_data(const T* d_dy, const T* d_x, const float* d_mean, const float* d_invstd,
                      const float* d_weight, const float* d_sum_dy, const float* d_sum_dy_xhat,
                      T* d_dx, std::int64_t batch, std::int64_t channels, std::int64_t area,
                      cudaStream_t stream);

// Evaluation-mode grad_x = weight[c] * invstd[c] * dy (weight null: 1).
template <typename T>
void bn_scale_grad(const T* d_dy, const float* d_weight, const float* d_invstd, T* d_dx,
                   std::int64_t batch, std::int64_t channels, std::int64_t area,
                   cudaStream_t stream);

}  // namespace crunet::kernels
