#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

// y = x W^T + b, with x [N, in], weight [out, in], bias [out] (may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace crunet::ops
