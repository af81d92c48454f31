#pragma once
// The backward passes of a pointwise convolution (1x1, stride 1, no padding, one group) on
// channels-last tensors, as oneDNN matrix products. On NHWC memory such a convolution is a matrix
// product, y[M, Cout] = x[M, Cin] * weight[Cout, Cin]^T with M = N * H * W, so
//   grad_x[M, Cin]         = grad_y[M, Cout] * weight[Cout, Cin]
//   grad_weight[Cout, Cin] = grad_y[M, Cout]^T * x[M, Cin]
// read and write crunet's tensors in place, with no blocked copies of weights or activations.
// Why, per pass and type (oneDNN 2.6, Debian's; bench/ and docs/benchmarks.md):
// * backward-weights, bfloat16 and float32: oneDNN's convolution kernels for it run slower than
//   its matmul: on AMX 3-5x slower in bfloat16 (2026-12-06, Xeon); in float32 on AVX2 (AMD EPYC
//   Zen 3, 2026-12-07) 23% slower over the main job's shapes, with no shape where the matmul lost
//   by more than 7%; on the AVX-512 Xeon the two measured the same in float32.
// * backward-data, bfloat16 and float32: oneDNN 2.6 has no brgemm convolution backward-data, for
//   AMX nor AVX-512, while its matmul is brgemm there: on an AVX-512/AMX Xeon (2026-12-08) the
//   float32 pointwise backward-data of a crunet56 step took 238 ms as matmuls against 328 ms as
//   jit_1x1 convolutions; on AVX2 (AMD EPYC Zen 3) the two measured the same.
// CRUNET_CPU_POINTWISE=conv turns this path off (for comparisons).
// Only compiled with CRUNET_WITH_ONEDNN.
#include "crunet/core/tensor.h"
#include "crunet/ops/conv2d.h"

namespace crunet::ops::cpu::onednn {

// Whether each backward pass of this convolution goes through a matrix product: the geometry
// above, the given tensors channels-last, and the types above.
bool pointwise_backward_data_by_matmul(const Shape& weight_shape, const Conv2dParams& params,
                                       const Tensor& grad_y);
bool pointwise_backward_weight_by_matmul(const Shape& weight_shape, const Conv2dParams& params,
                                         const Tensor& grad_y, const Tensor& x);

Tensor pointwise_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape);
Tensor pointwise_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape);

}  // namespace crunet::ops::cpu::onednn
