#pragma once
// batch_norm's backend entries, for dense x [N, C, H, W] (NCHW on CUDA; NCHW or channels-last on
// the CPU, whose outputs and grad_x keep x's layout) and float32 [C] vectors that the dispatcher
// has checked. With m = N*H*W values per channel:
//   training: mean = sum(x) / m, var = sum((x - mean)^2) / m (biased),
//             y = (x - mean) * invstd * w + b with invstd = 1 / sqrt(var + eps);
//             running_mean (if defined) becomes (1 - momentum) * running_mean + momentum * mean,
//             running_var  (if defined) becomes (1 - momentum) * running_var + momentum * var_u
//             with the unbiased var_u = var * m / (m - 1), both in place;
//   eval:     the same with running_mean / running_var in place of mean / var, nothing updated.
// weight and bias may be undefined (taken as 1 and 0). Backward, with xhat = (x - mean) * invstd:
//   grad_b = sum(dy), grad_w = sum(dy * xhat),
//   training: grad_x = w * invstd / m * (m * dy - grad_b - xhat * grad_w)  (through mean and var),
//   eval:     grad_x = w * invstd * dy.
// Every entry returns fresh tensors; the autograd engine accumulates parameter gradients.
#include "crunet/core/tensor.h"

namespace crunet::ops {

// The training forward's output and the batch statistics its backward needs.
struct BatchNormForward {
  Tensor y;
  Tensor mean;  // [C]
  Tensor var;   // [C], biased
  Tensor relu_mask;  // the fused batch_norm + ReLU's record of where y > 0; undefined otherwise
};

// Gradients of x, weight and bias; undefined where not asked for.
struct BatchNormGrads {
  Tensor x;
  Tensor weight;
  Tensor bias;
};

}  // namespace crunet::ops

namespace crunet::ops::cpu {
BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps);
Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps);
// mean / var are the training forward's batch statistics, or the running ones in eval. x, mean
// and var are needed (defined) only for need_x or need_w, weight only for need_x.
BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b);

// The fused y = max(0, batch_norm(x)) (oneDNN's fuse_norm_relu), where has_fused_batch_norm_relu():
// one pass instead of two, and no separate normalised tensor. The training forward's relu_mask is
// what the backward needs, with grad_y of y; the backward is of a training forward only.
bool has_fused_batch_norm_relu();
BatchNormForward batch_norm_relu_forward_training(const Tensor& x, const Tensor& weight,
                                                  const Tensor& bias, const Tensor& running_mean,
                                                  const Tensor& running_var, float momentum,
                                                  float eps);
Tensor batch_norm_relu_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                    const Tensor& running_mean, const Tensor& running_var,
                                    float eps);
BatchNormGrads batch_norm_relu_backward(const Tensor& grad_y, const Tensor& x,
                                        const Tensor& weight, const Tensor& mean, const Tensor& var,
                                        const Tensor& relu_mask, float eps, bool need_x,
                                        bool need_w, bool need_b);
}  // namespace crunet::ops::cpu

namespace crunet::ops::cuda {
BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps);
Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps);
BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b);
}  // namespace crunet::ops::cuda
