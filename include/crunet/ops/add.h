#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

// a + b for tensors of the same shape, dtype and device (no broadcasting: a residual sum).
Tensor add(const Tensor& a, const Tensor& b);

}  // namespace crunet::ops
