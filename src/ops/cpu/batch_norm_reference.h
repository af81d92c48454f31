#pragma once
// Plain per-channel loops for batch_norm, with statistics and reductions in double: the reference
// the oneDNN path is tested against, and the CPU implementation in builds without oneDNN.
// Same contracts as the entries in ../batch_norm_backend.h.
#include "../batch_norm_backend.h"

namespace crunet::ops::cpu::reference {
BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps);
Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps);
BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b);

// running = (1 - momentum) * running + momentum * batch, with the variance made unbiased over
// `count` values per channel; no-op for undefined running tensors. The oneDNN path uses it too.
void update_running_stats(const Tensor& running_mean, const Tensor& running_var, const Tensor& mean,
                          const Tensor& var, std::int64_t count, float momentum);
}  // namespace crunet::ops::cpu::reference
