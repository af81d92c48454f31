#pragma once
// batch_norm's custom kernels (kernels/batch_norm.cu): what cuDNN's batch norm does not cover.
// x and dy are contiguous float32 NCHW with `planes` = N planes of C channels of `area` = H*W.
#include <cstdint>

#include <cuda_runtime_api.h>

namespace crunet::kernels {

// var[c] = 1 / invstd[c]^2 - eps: cuDNN saves invstd = 1 / sqrt(var + eps); the backend keeps var.
void bn_invstd_to_var(const float* d_invstd, float* d_var, std::int64_t channels, float eps,
                      cudaStream_t stream);
// invstd[c] = 1 / sqrt(var[c] + eps).
void bn_var_to_invstd(const float* d_var, float* d_invstd, std::int64_t channels, float eps,
                      cudaStream_t stream);

// Per channel, over N, H, W: sum_dy[c] = sum dy; and, when d_sum_dy_xhat is not null,
// sum_dy_xhat[c] = sum dy * (x - mean[c]) * invstd[c].
void bn_channel_sums(const float* d_dy, const float* d_x, const float* d_mean,
                     const float* d_invstd, float* d_sum_dy, float* d_sum_dy_xhat,
                     std::int64_t batch, std::int64_t channels, std::int64_t area,
                     cudaStream_t stream);

// Evaluation-mode grad_x = weight[c] * invstd[c] * dy (weight null: 1).
void bn_scale_grad(const float* d_dy, const float* d_weight, const float* d_invstd, float* d_dx,
                   std::int64_t batch, std::int64_t channels, std::int64_t area,
                   cudaStream_t stream);

}  // namespace crunet::kernels
