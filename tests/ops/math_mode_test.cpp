// The CUDA math mode's thread-local setting (crunet/ops/math_mode.h); its effect on cuDNN and
// cuBLAS is checked in tests/gpu/conv_kernels_test.cpp.
#include <gtest/gtest.h>

#include <thread>

#include "crunet/ops.h"

namespace crunet {
namespace {

TEST(MathMode, DefaultsToFp32AndTheGuardRestores) {
  EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kFp32);
  {
    ops::CudaMathModeGuard tf32(ops::MathMode::kTf32);
    EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kTf32);
    {
      ops::CudaMathModeGuard fp32(ops::MathMode::kFp32);
      EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kFp32);
    }
    EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kTf32);
  }
  EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kFp32);
}

TEST(MathMode, BelongsToTheCallingThread) {
  ops::CudaMathModeGuard tf32(ops::MathMode::kTf32);
  ops::MathMode other = ops::MathMode::kTf32;
  std::thread([&other] { other = ops::cuda_math_mode(); }).join();
  EXPECT_EQ(other, ops::MathMode::kFp32);
  EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kTf32);
}

TEST(MathMode, NamesRoundTrip) {
  for (ops::MathMode mode : {ops::MathMode::kFp32, ops::MathMode::kTf32}) {
    EXPECT_EQ(ops::parse_math_mode(ops::math_mode_name(mode)), mode);
  }
  EXPECT_THROW(ops::parse_math_mode("fp16"), ValueError);
}

}  // namespace
}  // namespace crunet
