#pragma once
// The window arithmetic of 2-d pooling for the CUDA kernels (kernels/pool2d.cu), in plain C++ as
// well, so that tests/ops/pool2d_windows_test.cpp checks it on the CPU against brute force.
// Output row o's window covers input rows o * stride - padding .. o * stride - padding + kernel - 1,
// clipped to the input (padding is never part of a window: max's -infinity, avg's
// count_include_pad = false). The backward kernels gather instead of scattering: each input
// element sums over the outputs whose windows contain it, so no two threads write one value and
// no atomics are needed.
#include <cstdint>

#include "core/cuda/host_device.h"

namespace crunet::ops::pool2d {

struct Geometry {
  std::int64_t planes;  // N * C
  std::int64_t h, w;    // input
  std::int64_t oh, ow;  // output
  std::int64_t kernel, stride, padding;
};

struct Range {
  std::int64_t begin, end;  // [begin, end); empty when end <= begin
};

// The input rows [begin, end) of output row `o` along an extent of `size` inputs.
CRUNET_HOST_DEVICE inline Range window_inputs(std::int64_t o, std::int64_t size,
                                              std::int64_t kernel, std::int64_t stride,
                                              std::int64_t padding) {
  const std::int64_t start = o * stride - padding;
  return {start > 0 ? start : 0, start + kernel < size ? start + kernel : size};
}

// The output rows [begin, end) whose windows contain input row `i`, of `outputs` rows in all:
// o * stride - padding <= i < o * stride - padding + kernel, i.e.
// (i + padding - kernel) / stride < o <= (i + padding) / stride.
CRUNET_HOST_DEVICE inline Range covering_outputs(std::int64_t i, std::int64_t outputs,
                                                 std::int64_t kernel, std::int64_t stride,
                                                 std::int64_t padding) {
  const std::int64_t top = i + padding;  // >= 0: i is an input row, padding >= 0
  const std::int64_t begin = top < kernel ? 0 : (top - kernel) / stride + 1;
  const std::int64_t end = top / stride + 1;
  return {begin, end < outputs ? end : outputs};
}

}  // namespace crunet::ops::pool2d
