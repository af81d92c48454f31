#include <cmath>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

double reference_loss(const std::vector<float>& z, const std::vector<std::int64_t>& t,
                      std::int64_t classes, double smoothing) {
  const std::size_t n = t.size();
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double m = -1e30, s = 0;
    for (std::int64_t c = 0; c < classes; ++c) m = std::max(m, double(z[i * classes + c]));
    for (std::int64_t c = 0; c < classes; ++c) s += std::exp(z[i * classes + c] - m);
    for (std::int64_t c = 0; c < classes; ++c) {
      const double q = smoothing / classes + (c == t[i] ? 1 - smoothing : 0);
      total -= q * (z[i * classes + c] - m - std::log(s));
    }
  }
  return total / n;
}

TEST(CrossEntropy, ForwardMatchesLogSoftmax) {
  Tensor logits = randn({6, 5}, 1);
  Tensor targets = from_int64_vector({0, 4, 2, 2, 1, 3}, {6});
  for (float smoothing : {0.0f, 0.1f}) {
    Tensor loss = ops::cross_entropy(logits, targets, {smoothing});
    EXPECT_EQ(loss.shape(), Shape{});
    EXPECT_NEAR(loss.item(),
                reference_loss(logits.to_vector(), targets.to_int64_vector(), 5, smoothing), 1e-5);
  }
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  Tensor logits = from_vector({1000.0f, -1000.0f, 0.0f, 500.0f}, {2, 2});
  Tensor targets = from_int64_vector({0, 1}, {2});
  EXPECT_NEAR(ops::cross_entropy(logits, targets).item(), 0.0f, 1e-6);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  Tensor targets = from_int64_vector({1, 0, 3, 3}, {4});
  for (float smoothing : {0.0f, 0.2f}) {
    EXPECT_TRUE(testing::gradcheck(
        [&](const std::vector<Tensor>& t) {
          return ops::cross_entropy(t[0], targets, {smoothing});
        },
        {randn({4, 7}, 2).requires_grad(true)}));
  }
}

TEST(CrossEntropy, BadTargetsAreClearErrors) {
  Tensor logits = randn({2, 3}, 1);
  EXPECT_THROW(ops::cross_entropy(logits, from_int64_vector({0, 3}, {2})),
               ValueError);
  EXPECT_THROW(ops::cross_entropy(logits, from_int64_vector({0}, {1})),
               ValueError);
  EXPECT_THROW(ops::cross_entropy(logits, from_vector({0.0f, 1.0f}, {2})), ValueError);
  EXPECT_THROW(ops::cross_entropy(logits, from_int64_vector({0, 1}, {2}), {-0.1f}),
               ValueError);
}

}  // namespace
}  // namespace crunet
