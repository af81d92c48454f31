#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

// Merges the dimensions from start_dim to the last into one: [N, C, H, W] -> [N, C*H*W].
Tensor flatten(const Tensor& x, std::int64_t start_dim = 1);

}  // namespace crunet::ops
