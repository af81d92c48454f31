#pragma once
// linear's backend entries: y = x W^T + b; grad_x = grad_y W; grad_W = grad_y^T x;
// grad_b = column sums of grad_y.
#include "crunet/core/tensor.h"

namespace crunet::ops::cpu {
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor linear_backward_input(const Tensor& grad_y, const Tensor& weight);
Tensor linear_backward_weight(const Tensor& grad_y, const Tensor& x);
Tensor linear_backward_bias(const Tensor& grad_y);
}  // namespace crunet::ops::cpu

namespace crunet::ops::cuda {
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor linear_backward_input(const Tensor& grad_y, const Tensor& weight);
Tensor linear_backward_weight(const Tensor& grad_y, const Tensor& x);
Tensor linear_backward_bias(const Tensor& grad_y);
}  // namespace crunet::ops::cuda
