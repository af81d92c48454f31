#pragma once
// The backward passes of a pointwise convolution (1x1, stride 1, no padding, one group) on
// channels-last bfloat16 tensors, as oneDNN matrix products. On NHWC memory such a convolution is
// a matrix product, y[M, Cout] = x[M, Cin] * weight[Cout, Cin]^T with M = N * H * W, so
//   grad_x[M, Cin]         = grad_y[M, Cout] * weight[Cout, Cin]
//   grad_weight[Cout, Cin] = grad_y[M, Cout]^T * x[M, Cin]
// read and write crunet's tensors in place, with no blocked copies of weights or activations.
// Why: oneDNN 2.6 (Debian's) has no brgemm convolution backward for AMX, and its generic AMX
// backward-weights kernel runs these at a fifth to a third of its brgemm matmul (bench/ and
// docs/benchmarks.md, 2026-12-06). float32 keeps the convolution primitives, which measure the
// same as the matmul there. CRUNET_CPU_POINTWISE=conv turns this path off (for comparisons).
// Only compiled with CRUNET_WITH_ONEDNN.
#include "crunet/core/tensor.h"
#include "crunet/ops/conv2d.h"

namespace crunet::ops::cpu::onednn {

// Whether the backward of this convolution goes through the matrix products: the geometry above,
// bfloat16, and the given tensors channels-last.
bool pointwise_matmul_applies(const Shape& weight_shape, const Conv2dParams& params,
                              const Tensor& grad_y, const Tensor& x_or_undefined);

Tensor pointwise_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape);
Tensor pointwise_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape);

}  // namespace crunet::ops::cpu::onednn
