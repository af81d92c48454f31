#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

// x converted to `dtype` (float32 <-> bfloat16, rounding to nearest even; NaN stays NaN),
// differentiable: the gradient flows back converted to x's dtype. Casting to x's own dtype returns
// x itself. This is how the bfloat16 precision mode (crunet/nn/autocast.h) moves between the
// float32 master weights and bfloat16 activations.
Tensor cast(const Tensor& x, DType dtype);

}  // namespace crunet::ops
