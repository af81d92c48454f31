#pragma once
// cast's backend entries: a fresh contiguous tensor of x's shape in `dtype`, for contiguous x.
// float32 -> bfloat16 rounds to nearest even (NaN stays a quiet NaN, overflow goes to infinity);
// bfloat16 -> float32 is exact. Other pairs of types are not provided.
#include "crunet/core/tensor.h"

namespace crunet::ops::cpu {
Tensor cast(const Tensor& x, DType dtype);
}

namespace crunet::ops::cuda {
Tensor cast(const Tensor& x, DType dtype);
}
