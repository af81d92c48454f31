#pragma once
// conv2d as plain loops with double accumulation: the obviously-right reference the fast CPU path
// (oneDNN) and the CUDA path are tested against, and the CPU path itself in builds without oneDNN.
// Same contract as conv2d_backend.h: contiguous float32 NCHW tensors, checked shapes, fresh results.
#include "crunet/core/tensor.h"
#include "crunet/ops/conv2d.h"

namespace crunet::ops::cpu::reference {

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params);
Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params);
Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params);
Tensor conv2d_backward_bias(const Tensor& grad_y);

}  // namespace crunet::ops::cpu::reference
