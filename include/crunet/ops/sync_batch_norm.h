#pragma once
// Synchronised batch normalisation for data-parallel training: the batch statistics are those of
// the global batch (every process's part together), as if one process saw it all.
#include <functional>
#include <vector>

#include "crunet/core/tensor.h"
#include "crunet/ops/batch_norm.h"

namespace crunet::ops {

// Sums `values` element by element over every process of a data-parallel group, in place; every
// process calls it at the same point with the same length. crunet::dist supplies it (MPI).
using CrossProcessSum = std::function<void(std::vector<double>& values)>;

// batch_norm (same arguments, float32 x [N, C, H, W]) whose training statistics are the global
// batch's: the forward sums per channel count, sum and sum of squares across processes
// (one call of `sum`, 3C + 1 values), the backward sums the two per-channel gradient sums,
// sum(dy) and sum(dy * xhat) (one call, 2C values). The running statistics are updated with the
// global mean and the global unbiased variance, so they stay identical on every process. The
// weight and bias gradients are this process's own sums: the data-parallel gradient average adds
// them up. In evaluation (params.training false) it is batch_norm, without communication.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var,
                       const BatchNormParams& params, const CrossProcessSum& sum);

}  // namespace crunet::ops
