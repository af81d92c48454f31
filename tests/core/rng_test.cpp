#include <cmath>

#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

TEST(Rng, SameSeedSameNumbers) {
  EXPECT_EQ(randn({100}, 7).to_vector(), randn({100}, 7).to_vector());
  EXPECT_NE(randn({100}, 7).to_vector(), randn({100}, 8).to_vector());
  manual_seed(42);
  const std::vector<float> first = randn({50}).to_vector();
  manual_seed(42);
  EXPECT_EQ(randn({50}).to_vector(), first);
}

TEST(Rng, NormalHasUnitMoments) {
  const std::vector<float> v = randn({200000}, 3).to_vector();
  double mean = 0, sq = 0;
  for (float x : v) mean += x;
  mean /= v.size();
  for (float x : v) sq += (x - mean) * (x - mean);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sq / v.size()), 1.0, 0.01);
}

TEST(Rng, UniformStaysInRange) {
  const std::vector<float> v = rand_uniform({10000}, -2.0, 3.0, 5).to_vector();
  for (float x : v) {
    ASSERT_GE(x, -2.0f);
    ASSERT_LT(x, 3.0f);
  }
}

TEST(Rng, StateRestoresTheStream) {
  Generator g(11);
  g.normal();  // leaves a spare normal in the state
  const std::string state = g.state();
  std::vector<double> expected;
  for (int i = 0; i < 5; ++i) expected.push_back(g.normal());
  Generator h(0);
  h.set_state(state);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.normal(), expected[i]);
  EXPECT_THROW(h.set_state("garbage"), ValueError);
}

TEST(Rng, BelowIsUnbiasedAndInRange) {
  Generator g(1);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30000; ++i) ++counts[g.below(3)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

}  // namespace
}  // namespace crunet
