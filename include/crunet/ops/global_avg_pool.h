#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

// Mean over H and W: [N, C, H, W] -> [N, C].
Tensor global_avg_pool(const Tensor& x);

}  // namespace crunet::ops
