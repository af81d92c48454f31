#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "crunet/crunet.h"
#include "ops/cpu/pool2d_reference.h"
#include "support/gradcheck.h"
#include "support/inputs.h"

namespace crunet {
namespace {

namespace reference = ops::cpu::reference;
using ops::Pool2dParams;

struct Case {
  Shape shape;
  Pool2dParams params;
};

// Odd and even sizes, N = 1 with a spatial extent, 3 to 64 channels, overlapping windows; the
// last is large enough for the reference's parallel loops.
const std::vector<Case> kCases = {
    {{2, 3, 7, 7}, {3, 2, 1}},    {{1, 5, 8, 9}, {3, 2, 1}}, {{3, 64, 8, 8}, {2, 2, 0}},
    {{2, 7, 9, 7}, {2, 2, 0}},    {{1, 3, 5, 5}, {3, 1, 1}}, {{2, 4, 11, 6}, {3, 3, 0}},
    {{1, 16, 15, 13}, {5, 2, 2}}, {{2, 6, 4, 4}, {1, 1, 0}}, {{2, 32, 24, 23}, {3, 2, 1}}};

::testing::AssertionResult close_to_reference(const Tensor& actual, const Tensor& expected) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << "undefined tensor";
  }
  return testing::all_close(actual, expected, 1e-3, 1e-5);
}

std::string describe(const Case& c) {
  return shape_str(c.shape) + " kernel " + std::to_string(c.params.kernel) + " stride " +
         std::to_string(c.params.stride) + " padding " + std::to_string(c.params.padding);
}

TEST(MaxPool2d, OutputSizeIsPyTorchsFloorMode) {
  EXPECT_EQ(ops::pool2d_output_size(7, {3, 2, 1}), 4);
  EXPECT_EQ(ops::pool2d_output_size(8, {3, 2, 1}), 4);
  EXPECT_EQ(ops::pool2d_output_size(9, {3, 2, 1}), 5);
  EXPECT_EQ(ops::pool2d_output_size(112, {3, 2, 1}), 56);
  EXPECT_EQ(ops::pool2d_output_size(8, {2, 2, 0}), 4);
  EXPECT_EQ(ops::pool2d_output_size(9, {2, 2, 0}), 4);
  EXPECT_EQ(ops::pool2d_output_size(3, {3, 2, 0}), 1);
  EXPECT_EQ(ops::max_pool2d(randn({1, 3, 8, 9}, 1)).shape(), (Shape{1, 3, 4, 5}));
}

// All values negative, so that a zero-padded window would give 0 instead of the window's maximum.
TEST(MaxPool2d, HandComputedWindowsTreatPaddingAsMinusInfinity) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = -1.0f - static_cast<float>(i);
  const Tensor x = from_vector(v, {1, 1, 4, 4});
  EXPECT_EQ(ops::max_pool2d(x, {2, 2, 0}).to_vector(), (std::vector<float>{-1, -3, -9, -11}));
  // 3x3/2 pad 1: windows cover rows {0, 1} and {1, 2, 3}, the same for columns.
  EXPECT_EQ(ops::max_pool2d(x, {3, 2, 1}).to_vector(), (std::vector<float>{-1, -2, -5, -6}));
}

TEST(MaxPool2d, MatchesReferenceForwardAndBackward) {
  std::uint64_t seed = 100;
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    const Tensor x = testing::distinct_values(c.shape, ++seed, 0.01f);
    Tensor xg = x.clone().requires_grad(true);
    const Tensor y = ops::max_pool2d(xg, c.params);
    const Tensor dy = randn(y.shape(), ++seed);
    y.backward(dy);
    const ops::MaxPool2dForward ref = reference::max_pool2d_forward(x, c.params, true);
    EXPECT_TRUE(close_to_reference(y, ref.y));
    EXPECT_TRUE(close_to_reference(
        xg.grad(), reference::max_pool2d_backward(dy, ref.saved, c.shape, c.params)));
    // Without recording, the same values (and no argmax record is kept).
    NoGradGuard no_grad;
    EXPECT_TRUE(close_to_reference(ops::max_pool2d(xg, c.params), ref.y));
  }
}

// Equal values everywhere: every window's gradient goes to its first input position in
// row-major order, as PyTorch's max_pool2d does.
TEST(MaxPool2d, TiesRouteTheGradientToTheFirstMaximum) {
  {
    Tensor x = ones({1, 1, 4, 4}).requires_grad(true);
    ops::max_pool2d(x, {2, 2, 0}).backward(from_vector({1, 2, 3, 4}, {1, 1, 2, 2}));
    EXPECT_EQ(x.grad().to_vector(),
              (std::vector<float>{1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0}));
  }
  {
    // 3x3/2 pad 1 on 5x5: windows start at rows (and columns) 0, 1 and 3 once clipped.
    Tensor x = full({1, 1, 5, 5}, 2.0).requires_grad(true);
    ops::max_pool2d(x, {3, 2, 1}).backward(ones({1, 1, 3, 3}));
    std::vector<float> expected(25, 0.0f);
    for (int r : {0, 1, 3}) {
      for (int col : {0, 1, 3}) expected[r * 5 + col] = 1.0f;
    }
    EXPECT_EQ(x.grad().to_vector(), expected);
  }
  {
    // Ties among the larger values of random windows agree with the reference too.
    std::vector<float> v = randn({2, 3, 9, 8}, 5).to_vector();
    for (float& value : v) value = std::round(value * 2.0f) / 2.0f;
    const Tensor x = from_vector(v, {2, 3, 9, 8});
    Tensor xg = x.clone().requires_grad(true);
    const Tensor y = ops::max_pool2d(xg, {3, 2, 1});
    const Tensor dy = randn(y.shape(), 6);
    y.backward(dy);
    const ops::MaxPool2dForward ref = reference::max_pool2d_forward(x, {3, 2, 1}, true);
    EXPECT_TRUE(close_to_reference(
        xg.grad(), reference::max_pool2d_backward(dy, ref.saved, x.shape(), {3, 2, 1})));
  }
}

TEST(MaxPool2d, GradientMatchesFiniteDifferences) {
  // Values 0.05 apart and perturbations of 0.01: no perturbation changes a window's argmax.
  for (const Case& c : {Case{{2, 3, 7, 7}, {3, 2, 1}}, Case{{1, 4, 8, 9}, {2, 2, 0}}}) {
    SCOPED_TRACE(describe(c));
    EXPECT_TRUE(testing::gradcheck(
        [params = c.params](const std::vector<Tensor>& t) { return ops::max_pool2d(t[0], params); },
        {testing::distinct_values(c.shape, 3).requires_grad(true)}));
  }
}

TEST(AvgPool2d, HandComputedWindowsExcludePadding) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  const Tensor x = from_vector(v, {1, 1, 4, 4});
  EXPECT_EQ(ops::avg_pool2d(x, {2, 2, 0}).to_vector(), (std::vector<float>{2.5, 4.5, 10.5, 12.5}));
  // 3x3/2 pad 1: the corner window holds 4 inputs, the edge ones 6, the inner one 9.
  const std::vector<float> y = ops::avg_pool2d(x, {3, 2, 1}).to_vector();
  EXPECT_FLOAT_EQ(y[0], (0 + 1 + 4 + 5) / 4.0f);
  EXPECT_FLOAT_EQ(y[1], (1 + 2 + 3 + 5 + 6 + 7) / 6.0f);
  EXPECT_FLOAT_EQ(y[2], (4 + 5 + 8 + 9 + 12 + 13) / 6.0f);
  EXPECT_FLOAT_EQ(y[3], (5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15) / 9.0f);

  Tensor xg = x.clone().requires_grad(true);
  ops::avg_pool2d(xg, {3, 2, 1}).backward(from_vector({4, 6, 6, 9}, {1, 1, 2, 2}));
  // Each input receives 1 from every window that holds it.
  EXPECT_EQ(xg.grad().to_vector(),
            (std::vector<float>{1, 2, 1, 1, 2, 4, 2, 2, 1, 2, 1, 1, 1, 2, 1, 1}));
}

TEST(AvgPool2d, MatchesReferenceForwardAndBackward) {
  std::uint64_t seed = 200;
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    const Tensor x = randn(c.shape, ++seed);
    Tensor xg = x.clone().requires_grad(true);
    const Tensor y = ops::avg_pool2d(xg, c.params);
    const Tensor dy = randn(y.shape(), ++seed);
    y.backward(dy);
    EXPECT_TRUE(close_to_reference(y, reference::avg_pool2d_forward(x, c.params)));
    EXPECT_TRUE(
        close_to_reference(xg.grad(), reference::avg_pool2d_backward(dy, c.shape, c.params)));
  }
}

TEST(AvgPool2d, GradientMatchesFiniteDifferences) {
  for (const Case& c : {Case{{2, 3, 7, 7}, {3, 2, 1}}, Case{{1, 4, 8, 9}, {2, 2, 0}}}) {
    SCOPED_TRACE(describe(c));
    EXPECT_TRUE(testing::gradcheck(
        [params = c.params](const std::vector<Tensor>& t) { return ops::avg_pool2d(t[0], params); },
        {randn(c.shape, 4).requires_grad(true)}));
  }
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

TEST(MaxPool2d, ErrorsNameTheOpAndShapes) {
  expect_error([] { ops::max_pool2d(randn({2, 3, 4}, 1)); }, {"max_pool2d", "[2, 3, 4]"});
  expect_error([] { ops::avg_pool2d(randn({3, 4}, 1), {2, 2, 0}); }, {"avg_pool2d", "[3, 4]"});
  expect_error(
      [] {
        ops::max_pool2d(randn({1, 3, 8, 8}, 1), {3, 2, 2});
      },
      {"max_pool2d", "padding", "[1, 3, 8, 8]"});
  expect_error(
      [] {
        ops::avg_pool2d(randn({1, 3, 8, 8}, 1), {2, 2, 2});
      },
      {"avg_pool2d", "padding", "[1, 3, 8, 8]"});
  expect_error(
      [] {
        ops::max_pool2d(randn({1, 3, 8, 8}, 1), {3, 0, 1});
      },
      {"max_pool2d", "stride", "[1, 3, 8, 8]"});
  expect_error(
      [] {
        ops::max_pool2d(randn({1, 3, 2, 5}, 1), {5, 1, 1});
      },
      {"max_pool2d", "too small", "[1, 3, 2, 5]"});
  expect_error([] { ops::pool2d_output_size(8, {3, 2, -1}); }, {"pool2d_output_size", "padding"});
}

}  // namespace
}  // namespace crunet
