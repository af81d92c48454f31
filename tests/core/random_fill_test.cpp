// The in-place random fills on the CPU (crunet/core/random.h) and the pinned-memory API where no
// GPU exists; their CUDA sides are in tests/gpu/runtime_streams_test.cpp.
#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

TEST(RandomFill, NormalOnTheCpuDrawsLikeRandn) {
  manual_seed(123);
  const Tensor expected = randn({5, 7});
  manual_seed(123);
  Tensor t = empty({5, 7});
  normal_(t);
  EXPECT_EQ(t.to_vector(), expected.to_vector());
}

TEST(RandomFill, MeanStdLowAndHigh) {
  manual_seed(1);
  Tensor t = empty({20000});
  normal_(t, 3.0, 0.5);
  double sum = 0, squares = 0;
  for (float v : t.to_vector()) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double mean = sum / 20000, var = squares / 20000 - mean * mean;
  EXPECT_NEAR(mean, 3.0, 0.02);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.02);
  uniform_(t, -2.0, -1.0);
  for (float v : t.to_vector()) {
    ASSERT_GE(v, -2.0f);
    ASSERT_LE(v, -1.0f);
  }
}

TEST(RandomFill, BFloat16TensorsAreFilledToo) {
  manual_seed(2);
  Tensor t = empty({64}, TensorOptions(DType::BFloat16));
  uniform_(t, 0.0, 1.0);
  for (float v : t.to_vector()) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
  }
}

TEST(RandomFill, RefusesIntegersAndStridedViews) {
  EXPECT_THROW(normal_(zeros({3}, TensorOptions(DType::Int64))), ValueError);
  Tensor t = zeros({4, 4});
  Tensor strided(std::make_shared<TensorImpl>(t.impl()));
  strided.impl().strides = {1, 4};  // the transpose: not contiguous
  EXPECT_THROW(uniform_(strided), ValueError);
}

TEST(PinnedMemory, OrdinaryTensorsAreNotPinned) {
  EXPECT_FALSE(is_pinned(zeros({3})));
  EXPECT_FALSE(is_pinned(Tensor()));
}

TEST(PinnedMemory, WithoutAGpuAllocationFailsClearly) {
  if (cuda_is_available()) GTEST_SKIP() << "this machine has a GPU (tests/gpu covers pinned memory)";
  try {
    empty_pinned({4});
    FAIL() << "pinned memory without a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pinned"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crunet
