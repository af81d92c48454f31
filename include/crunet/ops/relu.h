#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

// max(x, 0), elementwise.
Tensor relu(const Tensor& x);

}  // namespace crunet::ops
