#pragma once
// Plain window loops for max_pool2d and avg_pool2d: the reference the oneDNN path is tested
// against, and the CPU implementation in builds without oneDNN. Same contracts as the entries in
// ../pool2d_backend.h; max_pool2d's saved record is int64 indices h * W + w into each input plane,
// shaped like y (PyTorch's return_indices).
#include "../pool2d_backend.h"

namespace crunet::ops::cpu::reference {
MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params, bool for_backward);
Tensor max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Shape& x_shape,
                           const Pool2dParams& params);
Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params);
Tensor avg_pool2d_backward(const Tensor& grad_y, const Shape& x_shape, const Pool2dParams& params);
}  // namespace crunet::ops::cpu::reference
