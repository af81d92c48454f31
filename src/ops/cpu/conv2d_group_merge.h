#pragma once
// A grouped convolution as one with fewer, wider groups: `merge` neighbouring groups become one
// whose weight is block-diagonal, each original group's [Cout/G, Cin/G] block on the diagonal and
// zeros elsewhere. The output is the same (the zeros add exact zeros; only an inf or NaN input
// would spread into the neighbouring group's outputs) at `merge` times the multiply-adds. Why:
// oneDNN 2.6 has no JIT forward kernel for groups narrower than its vector (conv2d_onednn.cpp),
// and its gemm fallback is slower than that multiple. Works on the CPU in any element type.
#include <cstdint>

#include "crunet/core/tensor.h"

namespace crunet::ops::cpu {

// weight [Cout, Cin/groups, K, K] (contiguous or not) -> [Cout, merge * Cin/groups, K, K] for
// groups / merge groups; groups % merge == 0.
Tensor merge_group_weight(const Tensor& weight, std::int64_t groups, std::int64_t merge);

}  // namespace crunet::ops::cpu
