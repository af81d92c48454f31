#pragma once
// conv2d's backend entries, for dense tensors whose shapes the dispatcher has checked (NCHW on
// CUDA; NCHW or channels-last on the CPU, whose oneDNN path returns channels-last y and grad_x):
//   y[n, co]      = b[co] + sum_{ci in group(co), kh, kw} x[n, ci, oh*s - p + kh, ow*s - p + kw]
//                                                         * w[co, ci - group_start, kh, kw]
//   grad_x        = the transposed convolution of grad_y with w (backward_data),
//   grad_w[co]    = correlation of x with grad_y over N and the output positions (backward_weight),
//   grad_b[co]    = sum of grad_y over N, H, W (backward_bias).
// Every entry returns a fresh tensor; the autograd engine accumulates parameter gradients.
#include "crunet/core/tensor.h"
#include "crunet/ops/conv2d.h"

namespace crunet::ops::cpu {
Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params);
Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params);
Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params);
Tensor conv2d_backward_bias(const Tensor& grad_y);
}  // namespace crunet::ops::cpu

namespace crunet::ops::cuda {
Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params);
Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params);
Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params);
Tensor conv2d_backward_bias(const Tensor& grad_y);
}  // namespace crunet::ops::cuda
