#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

struct Pool2dParams {
  std::int64_t kernel = 3;
  std::int64_t stride = 2;
  std::int64_t padding = 1;
};

// Max over square windows of x [N, C, H, W]; padding counts as -infinity, as PyTorch.
Tensor max_pool2d(const Tensor& x, const Pool2dParams& params = {});

// Mean over square windows; padded positions are not counted (count_include_pad = false).
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& params);

// Output spatial size for an input extent (floor mode, as PyTorch's default).
std::int64_t pool2d_output_size(std::int64_t input, const Pool2dParams& params);

}  // namespace crunet::ops
