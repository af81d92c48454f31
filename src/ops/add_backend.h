#pragma once
// add's backend entry: out = a + b (same shape). Its backward is the identity for both inputs.
#include "crunet/core/tensor.h"

namespace crunet::ops::cpu {
Tensor add_forward(const Tensor& a, const Tensor& b);
}

namespace crunet::ops::cuda {
Tensor add_forward(const Tensor& a, const Tensor& b);
}
