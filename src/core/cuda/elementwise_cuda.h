#pragma once
// The CUDA halves of crunet/core/elementwise.h (float32 and bfloat16; contiguous tensors, checked
// by the caller).
#include "crunet/core/tensor.h"

namespace crunet::cuda {

void add_inplace(const Tensor& dst, const Tensor& src, float alpha);
void scale_inplace(const Tensor& dst, float factor);

}  // namespace crunet::cuda
