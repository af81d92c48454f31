#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"
#include "support/inputs.h"

namespace crunet {
namespace {

TEST(Relu, ForwardIsMaxWithZero) {
  Tensor x = testing::away_from_zero({3, 5, 7}, 1);
  const std::vector<float> in = x.to_vector();
  const std::vector<float> out = ops::relu(x).to_vector();
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i], std::max(in[i], 0.0f));
}

TEST(Relu, GradientMatchesFiniteDifferences) {
  Tensor x = testing::away_from_zero({3, 5, 7}, 2).requires_grad(true);
  EXPECT_TRUE(testing::gradcheck([](const std::vector<Tensor>& t) { return ops::relu(t[0]); }, {x}));
}

TEST(Relu, RejectsIntegerTensors) {
  EXPECT_THROW(ops::relu(from_int64_vector({1}, {1})), ValueError);
}

}  // namespace
}  // namespace crunet
