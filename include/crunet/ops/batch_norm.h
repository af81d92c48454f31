#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

struct BatchNormParams {
  bool training = true;     // batch statistics (and a running-stat update) or running statistics
  float momentum = 0.1f;    // running = (1 - momentum) * running + momentum * batch, as PyTorch
  float eps = 1e-5f;
};

// Batch normalisation over N, H, W per channel of x [N, C, H, W], with affine weight and bias [C].
// In training, running_mean / running_var [C] (if defined) are updated in place with the batch
// mean and the unbiased batch variance; in evaluation they normalise.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormParams& params = {});

// relu(batch_norm(...)), the pre-activation units' "BNAC", as one op: on the CPU one oneDNN pass
// that keeps only a mask of the ReLU for the backward; elsewhere the two ops in turn.
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var,
                       const BatchNormParams& params = {});

}  // namespace crunet::ops
