#pragma once
// global_avg_pool's backend entries: y[n, c] = mean over h, w of x[n, c, h, w];
// grad_x[n, c, h, w] = grad_y[n, c] / (H * W).
#include "crunet/core/tensor.h"

// The CPU entries take x NCHW or channels-last and make grad_x in x_format, the layout x had.
namespace crunet::ops::cpu {
Tensor global_avg_pool_forward(const Tensor& x);
Tensor global_avg_pool_backward(const Tensor& grad_y, const Shape& x_shape, MemoryFormat x_format);
}  // namespace crunet::ops::cpu

namespace crunet::ops::cuda {
Tensor global_avg_pool_forward(const Tensor& x);
Tensor global_avg_pool_backward(const Tensor& grad_y, const Shape& x_shape);
}  // namespace crunet::ops::cuda
