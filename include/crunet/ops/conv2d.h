#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

struct Conv2dParams {
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t groups = 1;
  std::int64_t dilation = 1;  // only 1 is supported
};

// 2-D cross-correlation as torch.nn.functional.conv2d: x [N, Cin, H, W], weight
// [Cout, Cin/groups, K, K], bias [Cout] or undefined. Square kernels, equal stride/padding on H, W.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dParams& params = {});

// Output spatial size for an input extent.
std::int64_t conv2d_output_size(std::int64_t input, std::int64_t kernel, const Conv2dParams& params);

}  // namespace crunet::ops
