#pragma once
// relu's backend entries: y = max(x, 0); grad_x = grad_y where y > 0, else 0.
#include "crunet/core/tensor.h"

namespace crunet::ops::cpu {
Tensor relu_forward(const Tensor& x);
Tensor relu_backward(const Tensor& grad_y, const Tensor& y);
}  // namespace crunet::ops::cpu

namespace crunet::ops::cuda {
Tensor relu_forward(const Tensor& x);
Tensor relu_backward(const Tensor& grad_y, const Tensor& y);
}  // namespace crunet::ops::cuda
