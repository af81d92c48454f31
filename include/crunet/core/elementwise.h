#pragma once
// The few raw (non-recording) elementwise updates the lower layers need: gradient accumulation in
// the autograd engine and the optimiser's in-place updates. Ops with autograd live in crunet/ops.
#include "crunet/core/tensor.h"

namespace crunet {

// dst += alpha * src (same shape, dtype and device; dst dense in either memory format, src in any
// layout).
void add_inplace(const Tensor& dst, const Tensor& src, float alpha = 1.0f);
// dst *= factor.
void scale_inplace(const Tensor& dst, float factor);

}  // namespace crunet
