#pragma once
// max_pool2d's and avg_pool2d's backend entries, for dense x (NCHW on CUDA; NCHW or channels-last
// on the CPU, whose outputs and grad_x keep x's layout) whose shape and parameters the dispatcher
// has checked (padding at most kernel / 2, so every window holds an input value).
// Window (oh, ow) covers rows oh*s - p .. oh*s - p + k - 1 and the same for columns, clipped to
// the input; OH = pool2d_output_size(H, params).
//   max: y = the window's maximum (padding is -infinity); on ties the first in row-major window
//        order wins, as PyTorch. grad_x receives each grad_y at its window's argmax (summed where
//        windows overlap).
//   avg: y = the mean over the window's input positions (count_include_pad = false); grad_x
//        receives grad_y / that count at each of them.
// Every entry returns fresh tensors.
#include "crunet/core/tensor.h"
#include "crunet/ops/max_pool2d.h"

namespace crunet::ops {

// max_pool2d's output and what its backward needs: a backend-specific record of the argmax
// (oneDNN's workspace, or int64 indices h * W + w into each input plane); undefined unless
// asked for.
struct MaxPool2dForward {
  Tensor y;
  Tensor saved;
};

}  // namespace crunet::ops

// x_format: the layout the forward's x had (grad_x is made in it; grad_y may come in any).
namespace crunet::ops::cpu {
MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params, bool for_backward);
Tensor max_pool2d_backward(const Tensor& grad_y, const Tensor& saved, const Shape& x_shape,
                           MemoryFormat x_format, const Pool2dParams& params);
Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params);
Tensor avg_pool2d_backward(const Tensor& grad_y, const Shape& x_shape, MemoryFormat x_format,
                           const Pool2dParams& params);
}  // namespace crunet::ops::cpu

namespace crunet::ops::cuda {
MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params, bool for_backward);
Tensor max_pool2d_backward(const Tensor& grad_y, const Tensor& saved, const Shape& x_shape,
                           const Pool2dParams& params);
Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params);
Tensor avg_pool2d_backward(const Tensor& grad_y, const Shape& x_shape, const Pool2dParams& params);
}  // namespace crunet::ops::cuda
