#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"
#include "support/inputs.h"

namespace crunet {
namespace {

TEST(GlobalAvgPool, ForwardIsSpatialMean) {
  Tensor x = randn({2, 3, 5, 7}, 1);
  const std::vector<float> xv = x.to_vector();
  std::vector<float> expected(6);
  for (int p = 0; p < 6; ++p) {
    double sum = 0;
    for (int i = 0; i < 35; ++i) sum += xv[p * 35 + i];
    expected[p] = static_cast<float>(sum / 35);
  }
  EXPECT_TRUE(testing::all_close(ops::global_avg_pool(x), from_vector(expected, {2, 3})));
}

TEST(GlobalAvgPool, GradientMatchesFiniteDifferences) {
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& t) { return ops::global_avg_pool(t[0]); },
      {randn({2, 3, 5, 3}, 1).requires_grad(true)}));
}

TEST(GlobalAvgPool, NeedsFourDimensions) {
  EXPECT_THROW(ops::global_avg_pool(randn({2, 3}, 1)), ValueError);
}

TEST(Flatten, MergesTrailingDimensionsAndRoutesGradient) {
  Tensor x = randn({2, 3, 4, 5}, 1);
  EXPECT_EQ(ops::flatten(x).shape(), (Shape{2, 60}));
  EXPECT_EQ(ops::flatten(x, 2).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(ops::flatten(x).to_vector(), x.to_vector());
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& t) { return ops::relu(ops::flatten(t[0])); },
      {testing::away_from_zero({2, 3, 4, 5}, 4).requires_grad(true)}));
}

}  // namespace
}  // namespace crunet
