#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "crunet/crunet.h"
#include "ops/cpu/batch_norm_reference.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

namespace reference = ops::cpu::reference;
using ops::BatchNormForward;
using ops::BatchNormGrads;

constexpr float kEps = 1e-5f;
constexpr float kMomentum = 0.1f;

// Relative error below 1e-3, measured against the largest expected magnitude where values cancel.
::testing::AssertionResult close_to_reference(const Tensor& actual, const Tensor& expected) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << "undefined tensor";
  }
  const std::vector<float> e = expected.to_vector();
  float largest = 0.0f;
  for (float v : e) largest = std::max(largest, std::fabs(v));
  return testing::all_close(actual, expected, 1e-3, 1e-4 * std::max(largest, 1e-3f));
}

// x with a channel-independent offset and scale, so that the statistics are not trivially 0 / 1.
Tensor input(const Shape& shape, std::uint64_t seed) {
  std::vector<float> v = randn(shape, seed).to_vector();
  for (float& value : v) value = 1.5f * value + 0.7f;
  return from_vector(v, shape);
}

// Odd sizes, N = 1 with a spatial extent, 3 to 64 channels; the last is large enough for the
// reference's parallel loops.
const std::vector<Shape> kShapes = {{2, 3, 5, 7}, {1, 16, 9, 11}, {4, 64, 3, 3},  {3, 5, 1, 1},
                                    {8, 7, 4, 5}, {1, 3, 2, 2},   {2, 32, 24, 23}};

TEST(BatchNorm, TrainingMatchesReferenceForwardAndBackward) {
  std::uint64_t seed = 10;
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape_str(shape));
    const std::int64_t c = shape[1];
    const Tensor x = input(shape, ++seed), w = randn({c}, ++seed), b = randn({c}, ++seed);
    const Tensor rm0 = randn({c}, ++seed), rv0 = rand_uniform({c}, 0.5, 2.0, ++seed);
    Tensor rm = rm0.clone(), rv = rv0.clone();
    Tensor xg = x.clone().requires_grad(true), wg = w.clone().requires_grad(true),
           bg = b.clone().requires_grad(true);
    const Tensor y = ops::batch_norm(xg, wg, bg, rm, rv, {true, kMomentum, kEps});
    const Tensor dy = randn(shape, ++seed);
    y.backward(dy);

    Tensor ref_rm = rm0.clone(), ref_rv = rv0.clone();
    const BatchNormForward ref =
        reference::batch_norm_forward_training(x, w, b, ref_rm, ref_rv, kMomentum, kEps);
    const BatchNormGrads ref_grads =
        reference::batch_norm_backward(dy, x, w, ref.mean, ref.var, kEps, true, true, true, true);
    EXPECT_TRUE(close_to_reference(y, ref.y));
    EXPECT_TRUE(close_to_reference(rm, ref_rm));
    EXPECT_TRUE(close_to_reference(rv, ref_rv));
    EXPECT_TRUE(close_to_reference(xg.grad(), ref_grads.x));
    EXPECT_TRUE(close_to_reference(wg.grad(), ref_grads.weight));
    EXPECT_TRUE(close_to_reference(bg.grad(), ref_grads.bias));
  }
}

TEST(BatchNorm, EvalMatchesReferenceForwardAndBackward) {
  std::uint64_t seed = 50;
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape_str(shape));
    const std::int64_t c = shape[1];
    const Tensor x = input(shape, ++seed), w = randn({c}, ++seed), b = randn({c}, ++seed);
    const Tensor rm = randn({c}, ++seed), rv = rand_uniform({c}, 0.5, 2.0, ++seed);
    const Tensor rm_before = rm.clone(), rv_before = rv.clone();
    Tensor xg = x.clone().requires_grad(true), wg = w.clone().requires_grad(true),
           bg = b.clone().requires_grad(true);
    const Tensor y = ops::batch_norm(xg, wg, bg, rm, rv, {false, kMomentum, kEps});
    const Tensor dy = randn(shape, ++seed);
    y.backward(dy);

    const Tensor ref_y = reference::batch_norm_forward_eval(x, w, b, rm, rv, kEps);
    const BatchNormGrads ref_grads =
        reference::batch_norm_backward(dy, x, w, rm, rv, kEps, false, true, true, true);
    EXPECT_TRUE(close_to_reference(y, ref_y));
    EXPECT_TRUE(close_to_reference(xg.grad(), ref_grads.x));
    EXPECT_TRUE(close_to_reference(wg.grad(), ref_grads.weight));
    EXPECT_TRUE(close_to_reference(bg.grad(), ref_grads.bias));
    // Evaluation leaves the running statistics alone.
    EXPECT_EQ(rm.to_vector(), rm_before.to_vector());
    EXPECT_EQ(rv.to_vector(), rv_before.to_vector());
  }
}

// x [2, 2, 1, 2]: channel 0 holds {1, 2, 3, 6} (mean 3, biased variance 3.5, unbiased 14/3),
// channel 1 holds {0, 4, -2, 2} (mean 1, biased variance 5, unbiased 20/3).
TEST(BatchNorm, RunningStatisticsFollowPyTorchsUpdate) {
  const Tensor x = from_vector({1, 2, 0, 4, 3, 6, -2, 2}, {2, 2, 1, 2});
  const Tensor w = from_vector({2.0f, 0.5f}, {2}), b = from_vector({1.0f, -1.0f}, {2});
  Tensor rm = from_vector({0.5f, -1.0f}, {2}), rv = from_vector({1.0f, 2.0f}, {2});
  const Tensor y = ops::batch_norm(x, w, b, rm, rv, {true, 0.1f, kEps});

  EXPECT_NEAR(rm.to_vector()[0], 0.9 * 0.5 + 0.1 * 3, 1e-6);
  EXPECT_NEAR(rm.to_vector()[1], 0.9 * -1 + 0.1 * 1, 1e-6);
  EXPECT_NEAR(rv.to_vector()[0], 0.9 * 1 + 0.1 * 14.0 / 3, 1e-6);
  EXPECT_NEAR(rv.to_vector()[1], 0.9 * 2 + 0.1 * 20.0 / 3, 1e-6);

  // Normalised with the batch's biased variance.
  const std::vector<float> xv = x.to_vector(), yv = y.to_vector();
  const double mean[2] = {3, 1}, var[2] = {3.5, 5}, wv[2] = {2, 0.5}, bv[2] = {1, -1};
  for (int i = 0; i < 8; ++i) {
    const int c = (i / 2) % 2;
    EXPECT_NEAR(yv[i], wv[c] * (xv[i] - mean[c]) / std::sqrt(var[c] + kEps) + bv[c], 1e-5) << i;
  }

  // A second step compounds, here with momentum 0.5 and without recording (as under no_grad).
  NoGradGuard no_grad;
  ops::batch_norm(x, w, b, rm, rv, {true, 0.5f, kEps});
  EXPECT_NEAR(rm.to_vector()[0], 0.5 * 0.75 + 0.5 * 3, 1e-6);
  EXPECT_NEAR(rv.to_vector()[1], 0.5 * (1.8 + 2.0 / 3) + 0.5 * 20.0 / 3, 1e-5);
}

TEST(BatchNorm, EvalUsesRunningStatistics) {
  const Tensor x = from_vector({1, 2, 0, 4, 3, 6, -2, 2}, {2, 2, 1, 2});
  const Tensor w = from_vector({2.0f, 0.5f}, {2}), b = from_vector({1.0f, -1.0f}, {2});
  const Tensor rm = from_vector({0.5f, -1.0f}, {2}), rv = from_vector({1.0f, 4.0f}, {2});
  Tensor xg = x.clone().requires_grad(true);
  const Tensor y = ops::batch_norm(xg, w, b, rm, rv, {false, 0.1f, kEps});
  const Tensor dy = from_vector({1, -1, 2, 0.5, 3, 1, -2, 4}, {2, 2, 1, 2});
  y.backward(dy);
  const std::vector<float> xv = x.to_vector(), yv = y.to_vector(), gx = xg.grad().to_vector(),
                           dyv = dy.to_vector();
  const double mean[2] = {0.5, -1}, var[2] = {1, 4}, wv[2] = {2, 0.5}, bv[2] = {1, -1};
  for (int i = 0; i < 8; ++i) {
    const int c = (i / 2) % 2;
    EXPECT_NEAR(yv[i], wv[c] * (xv[i] - mean[c]) / std::sqrt(var[c] + kEps) + bv[c], 1e-5) << i;
    EXPECT_NEAR(gx[i], dyv[i] * wv[c] / std::sqrt(var[c] + kEps), 1e-5) << i;
  }
  EXPECT_EQ(rm.to_vector(), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(rv.to_vector(), (std::vector<float>{1.0f, 4.0f}));
}

TEST(BatchNorm, OptionalAffineAndPartialGradients) {
  const Shape shape{3, 4, 5, 3};
  const Tensor x = input(shape, 90), w = randn({4}, 91), b = randn({4}, 92), dy = randn(shape, 93);
  const BatchNormForward ref =
      reference::batch_norm_forward_training(x, w, b, Tensor(), Tensor(), kMomentum, kEps);
  const BatchNormGrads all =
      reference::batch_norm_backward(dy, x, w, ref.mean, ref.var, kEps, true, true, true, true);

  // Only the bias asks for a gradient: x and weight get none.
  {
    Tensor bg = b.clone().requires_grad(true);
    Tensor wc = w.clone();
    ops::batch_norm(x, wc, bg, Tensor(), Tensor()).backward(dy);
    EXPECT_TRUE(close_to_reference(bg.grad(), all.bias));
    EXPECT_FALSE(wc.grad().defined());
  }
  // x and weight but a fixed bias.
  {
    Tensor xg = x.clone().requires_grad(true), wg = w.clone().requires_grad(true);
    ops::batch_norm(xg, wg, b, Tensor(), Tensor()).backward(dy);
    EXPECT_TRUE(close_to_reference(xg.grad(), all.x));
    EXPECT_TRUE(close_to_reference(wg.grad(), all.weight));
  }
  // No affine parameters at all: weight 1, bias 0.
  {
    Tensor xg = x.clone().requires_grad(true);
    const Tensor y = ops::batch_norm(xg, Tensor(), Tensor(), Tensor(), Tensor());
    y.backward(dy);
    const Tensor ones_w = ones({4});
    const BatchNormForward plain = reference::batch_norm_forward_training(
        x, ones_w, zeros({4}), Tensor(), Tensor(), kMomentum, kEps);
    const BatchNormGrads grads = reference::batch_norm_backward(
        dy, x, ones_w, plain.mean, plain.var, kEps, true, true, false, false);
    EXPECT_TRUE(close_to_reference(y, plain.y));
    EXPECT_TRUE(close_to_reference(xg.grad(), grads.x));
  }
}

// Finite differences of sum(batch_norm(x) * R): the normalisation makes every output depend on
// every input of its channel, so this checks the gradient through the batch statistics.
TEST(BatchNorm, TrainingGradientMatchesFiniteDifferences) {
  testing::GradcheckOptions options;
  options.eps = 5e-3;
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& t) {
        return ops::batch_norm(t[0], t[1], t[2], Tensor(), Tensor(), {true, kMomentum, kEps});
      },
      {input({2, 3, 3, 4}, 1).requires_grad(true), randn({3}, 2).requires_grad(true),
       randn({3}, 3).requires_grad(true)},
      options));
  // N = 1 with a spatial extent: the statistics come from one image.
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& t) {
        return ops::batch_norm(t[0], t[1], t[2], Tensor(), Tensor(), {true, kMomentum, kEps});
      },
      {input({1, 4, 3, 5}, 4).requires_grad(true), randn({4}, 5).requires_grad(true),
       randn({4}, 6).requires_grad(true)},
      options));
}

TEST(BatchNorm, EvalGradientMatchesFiniteDifferences) {
  const Tensor rm = randn({5}, 7), rv = rand_uniform({5}, 0.5, 2.0, 8);
  EXPECT_TRUE(testing::gradcheck(
      [rm, rv](const std::vector<Tensor>& t) {
        return ops::batch_norm(t[0], t[1], t[2], rm, rv, {false, kMomentum, kEps});
      },
      {input({3, 5, 2, 3}, 9).requires_grad(true), randn({5}, 10).requires_grad(true),
       randn({5}, 11).requires_grad(true)}));
}

void expect_error(const std::function<void()>& call, const std::vector<std::string>& parts) {
  try {
    call();
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

TEST(BatchNorm, ErrorsNameTheOpAndShapes) {
  const Tensor w = ones({3}), b = zeros({3}), rm = zeros({3}), rv = ones({3});
  expect_error(
      [&] {
        ops::batch_norm(randn({2, 3, 4}, 1), w, b, rm, rv);
      },
      {"batch_norm", "[2, 3, 4]"});
  expect_error(
      [&] {
        ops::batch_norm(randn({2, 3, 4, 4}, 1), ones({5}), b, rm, rv);
      },
      {"batch_norm", "weight", "[5]", "[2, 3, 4, 4]"});
  expect_error(
      [&] {
        ops::batch_norm(randn({2, 3, 4, 4}, 1), w, zeros({4}), rm, rv);
      },
      {"batch_norm", "bias", "[4]", "[2, 3, 4, 4]"});
  expect_error(
      [&] {
        ops::batch_norm(randn({2, 3, 4, 4}, 1), w, b, rm, ones({2}));
      },
      {"batch_norm", "running_var", "[2]", "[2, 3, 4, 4]"});
  expect_error(
      [&] {
        ops::batch_norm(randn({2, 3, 4, 4}, 1), w, b, rm, Tensor());
      },
      {"batch_norm", "running_mean", "running_var"});
  expect_error(
      [&] {
        ops::batch_norm(randn({2, 3, 4, 4}, 1), w, b, Tensor(), Tensor(), {false});
      },
      {"batch_norm", "evaluation", "[2, 3, 4, 4]"});
  expect_error(
      [&] {
        ops::batch_norm(randn({1, 3, 1, 1}, 1), w, b, rm, rv);
      },
      {"batch_norm", "more than one value", "[1, 3, 1, 1]"});
  // One value per channel is fine for evaluation.
  EXPECT_EQ(ops::batch_norm(randn({1, 3, 1, 1}, 1), w, b, rm, rv, {false}).shape(),
            (Shape{1, 3, 1, 1}));
}

}  // namespace
}  // namespace crunet
