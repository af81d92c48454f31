// The window arithmetic of the CUDA pooling kernels (src/ops/cuda/pool2d_windows.h), checked on
// the CPU: the gathering backward must visit exactly the outputs whose windows contain each input.
#include <gtest/gtest.h>

#include "ops/cuda/pool2d_windows.h"

namespace crunet {
namespace {

TEST(Pool2dWindows, CoveringOutputsAreExactlyTheWindowsHoldingTheInput) {
  for (std::int64_t kernel = 1; kernel <= 5; ++kernel) {
    for (std::int64_t stride = 1; stride <= 4; ++stride) {
      for (std::int64_t padding = 0; padding <= kernel / 2; ++padding) {
        for (std::int64_t size = kernel; size <= 13; ++size) {
          if (size + 2 * padding < kernel) continue;
          const std::int64_t outputs = (size + 2 * padding - kernel) / stride + 1;
          for (std::int64_t i = 0; i < size; ++i) {
            const ops::pool2d::Range covering =
                ops::pool2d::covering_outputs(i, outputs, kernel, stride, padding);
            for (std::int64_t o = 0; o < outputs; ++o) {
              const ops::pool2d::Range window =
                  ops::pool2d::window_inputs(o, size, kernel, stride, padding);
              const bool holds = window.begin <= i && i < window.end;
              const bool listed = covering.begin <= o && o < covering.end;
              EXPECT_EQ(holds, listed) << "kernel " << kernel << " stride " << stride
                                       << " padding " << padding << " size " << size
                                       << " input " << i << " output " << o;
            }
          }
        }
      }
    }
  }
}

TEST(Pool2dWindows, WindowsAreClippedToTheInput) {
  // The stem's 3x3/2 max pool with padding 1 on 8 inputs: 4 outputs.
  const ops::pool2d::Range first = ops::pool2d::window_inputs(0, 8, 3, 2, 1);
  EXPECT_EQ(first.begin, 0);
  EXPECT_EQ(first.end, 2);
  const ops::pool2d::Range last = ops::pool2d::window_inputs(3, 8, 3, 2, 1);
  EXPECT_EQ(last.begin, 5);
  EXPECT_EQ(last.end, 8);
}

}  // namespace
}  // namespace crunet
