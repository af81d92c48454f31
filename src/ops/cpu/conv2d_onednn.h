#pragma once
// conv2d through oneDNN's convolution primitives (builds with CRUNET_WITH_ONEDNN only).
// Same contract as conv2d_backend.h: contiguous float32 NCHW tensors, checked shapes, fresh results.
#include <cstddef>

#include "crunet/core/tensor.h"
#include "crunet/ops/conv2d.h"

namespace crunet::ops::cpu::onednn {

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params);
Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params);
Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params);

// Primitives cached by the calling thread (forward, backward-data and backward-weight together),
// so that tests can check that repeating a convolution creates nothing new.
std::size_t cached_primitive_count();

}  // namespace crunet::ops::cpu::onednn
