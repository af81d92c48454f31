#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "crunet/crunet.h"
#include "ops/conv2d_backend.h"
#include "ops/cpu/conv2d_group_merge.h"
#include "ops/cpu/conv2d_reference.h"
#if CRUNET_WITH_ONEDNN
#include "ops/cpu/conv2d_onednn.h"
#endif
#include "support/gradcheck.h"

namespace crunet {
namespace {

namespace reference = ops::cpu::reference;
using ops::Conv2dParams;

struct Case {
  std::int64_t n, c_in, c_out, h, w, k, stride, padding, groups;
  bool bias;

  Shape x_shape() const { return {n, c_in, h, w}; }
  Shape weight_shape() const { return {c_out, c_in / groups, k, k}; }
  Conv2dParams params() const { return {stride, padding, groups, 1}; }
  Shape y_shape() const {
    return {n, c_out, ops::conv2d_output_size(h, k, params()),
            ops::conv2d_output_size(w, k, params())};
  }
  std::string str() const {
    return "x " + shape_str(x_shape()) + ", weight " + shape_str(weight_shape()) + ", stride " +
           std::to_string(stride) + ", padding " + std::to_string(padding) + ", groups " +
           std::to_string(groups) + (bias ? ", bias" : "");
  }
};

// Fixed cases for what the network uses (stem 7x7/2, 1x1 with and without stride, grouped 3x3 with
// 32 groups, depthwise 3x3) on odd sizes, plus corners (padding beyond the kernel's reach,
// channel multipliers).
std::vector<Case> fixed_cases() {
  return {
      {2, 3, 5, 7, 5, 3, 1, 1, 1, true},     {2, 4, 6, 9, 9, 3, 2, 1, 1, false},
      {1, 3, 8, 9, 9, 7, 2, 3, 1, false},    {2, 16, 8, 7, 7, 1, 1, 0, 1, true},
      {2, 16, 12, 8, 8, 1, 2, 0, 1, false},  {2, 64, 64, 9, 7, 3, 1, 1, 32, false},
      {2, 64, 64, 8, 8, 3, 2, 1, 32, true},  {2, 32, 32, 7, 5, 3, 1, 1, 32, false},
      {2, 24, 24, 9, 9, 3, 2, 1, 24, true},  {1, 8, 8, 6, 6, 3, 1, 0, 8, false},
      {1, 6, 12, 11, 11, 7, 1, 3, 3, true},  {1, 4, 4, 2, 3, 3, 2, 3, 2, false},
      {3, 5, 7, 4, 13, 5, 1, 1, 1, true},
  };
}

// Random geometries: groups 1, a few, or one per channel; kernels 1, 3, 5, 7; stride 1 or 2.
std::vector<Case> random_cases(int count, std::uint64_t seed) {
  Generator g(seed);
  std::vector<Case> cases;
  while (static_cast<int>(cases.size()) < count) {
    Case c{};
    c.n = 1 + static_cast<std::int64_t>(g.below(3));
    const std::int64_t kinds[] = {1, 2, 4};
    const std::int64_t groups_kind = kinds[g.below(3)];
    const std::int64_t per_group_in = 1 + static_cast<std::int64_t>(g.below(4));
    c.groups = groups_kind == 4 ? 4 + static_cast<std::int64_t>(g.below(5)) : groups_kind;
    c.c_in = c.groups * per_group_in;
    c.c_out = c.groups * (1 + static_cast<std::int64_t>(g.below(4)));
    const std::int64_t kernels[] = {1, 3, 5, 7};
    c.k = kernels[g.below(4)];
    c.stride = 1 + static_cast<std::int64_t>(g.below(2));
    c.padding = static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(c.k / 2 + 2)));
    c.h = 3 + static_cast<std::int64_t>(g.below(10));
    c.w = 3 + static_cast<std::int64_t>(g.below(10));
    c.bias = g.below(2) == 1;
    if (ops::conv2d_output_size(c.h, c.k, c.params()) < 1 ||
        ops::conv2d_output_size(c.w, c.k, c.params()) < 1) {
      continue;
    }
    cases.push_back(c);
  }
  return cases;
}

// Elementwise relative error below 1e-3, with an absolute floor of 1e-4 of the tensor's largest
// value for elements that sums cancel towards zero.
::testing::AssertionResult close_to_reference(const Tensor& actual, const Tensor& expected) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " vs "
                                         << shape_str(expected.shape());
  }
  const std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  double largest = 0.0;
  for (float v : e) largest = std::max(largest, static_cast<double>(std::fabs(v)));
  const double worst = testing::closeness(a, e, 1e-3, 1e-4 * largest + 1e-30);
  if (worst <= 1.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "worst error " << worst << "x the tolerance";
}

double dot(const Tensor& a, const Tensor& b) {
  const std::vector<float> av = a.to_vector(), bv = b.to_vector();
  double sum = 0.0;
  for (std::size_t i = 0; i < av.size(); ++i) sum += static_cast<double>(av[i]) * bv[i];
  return sum;
}

TEST(Conv2d, OutputSize) {
  EXPECT_EQ(ops::conv2d_output_size(224, 7, {2, 3}), 112);
  EXPECT_EQ(ops::conv2d_output_size(7, 3, {2, 1}), 4);
  EXPECT_EQ(ops::conv2d_output_size(8, 1, {2, 0}), 4);
  EXPECT_EQ(ops::conv2d_output_size(5, 3, {1, 0}), 3);
  EXPECT_EQ(ops::conv2d_output_size(2, 3, {2, 0}), 0);  // the kernel does not fit
  EXPECT_THROW(ops::conv2d_output_size(5, 3, {0, 0}), ValueError);
}

TEST(Conv2d, ReferenceMatchesHandComputedValues) {
  const Tensor x = from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  const Tensor w = from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor b = from_vector({0.5f}, {1});
  EXPECT_TRUE(testing::all_close(reference::conv2d_forward(x, w, b, {}),
                                 from_vector({37.5f, 47.5f, 67.5f, 77.5f}, {1, 1, 2, 2})));
  // Padding 1, stride 2: the taps that fall outside the image read zeros.
  EXPECT_TRUE(testing::all_close(reference::conv2d_forward(x, w, Tensor(), {2, 1}),
                                 from_vector({4, 18, 36, 77}, {1, 1, 2, 2})));
}

// The three reference passes are one linear map and its two adjoints:
// <conv(x, w), g> = <x, backward_data(g, w)> = <w, backward_weight(g, x)>, and sum(g) = sum(grad_b).
TEST(Conv2d, ReferenceBackwardIsTheAdjointOfForward) {
  for (const Case& c : {Case{2, 6, 4, 9, 7, 3, 2, 1, 2, false}, Case{1, 5, 5, 8, 6, 5, 1, 2, 5, false},
                        Case{2, 3, 4, 6, 6, 1, 2, 0, 1, false}}) {
    SCOPED_TRACE(c.str());
    const Tensor x = randn(c.x_shape(), 1), w = randn(c.weight_shape(), 2);
    const Tensor g = randn(c.y_shape(), 3);
    const double forward = dot(reference::conv2d_forward(x, w, Tensor(), c.params()), g);
    const double data = dot(x, reference::conv2d_backward_data(g, w, c.x_shape(), c.params()));
    const double weight =
        dot(w, reference::conv2d_backward_weight(g, x, c.weight_shape(), c.params()));
    EXPECT_NEAR(data, forward, 1e-5 * std::fabs(forward) + 1e-4);
    EXPECT_NEAR(weight, forward, 1e-5 * std::fabs(forward) + 1e-4);
    const double bias_sum = dot(reference::conv2d_backward_bias(g), ones({c.c_out}));
    EXPECT_NEAR(bias_sum, dot(g, ones(c.y_shape())), 1e-4);
  }
}

// The CPU backend (oneDNN in builds that have it) against the reference, all three passes.
void check_backend_against_reference(const Case& c, std::uint64_t seed) {
  SCOPED_TRACE(c.str());
  const Tensor x = randn(c.x_shape(), seed), w = randn(c.weight_shape(), seed + 1);
  const Tensor b = c.bias ? randn({c.c_out}, seed + 2) : Tensor();
  const Tensor g = randn(c.y_shape(), seed + 3);
  const Conv2dParams p = c.params();
  EXPECT_TRUE(close_to_reference(ops::conv2d(x, w, b, p), reference::conv2d_forward(x, w, b, p)))
      << "forward";
  EXPECT_TRUE(close_to_reference(ops::cpu::conv2d_backward_data(g, w, c.x_shape(), p),
                                 reference::conv2d_backward_data(g, w, c.x_shape(), p)))
      << "backward data";
  EXPECT_TRUE(close_to_reference(ops::cpu::conv2d_backward_weight(g, x, c.weight_shape(), p),
                                 reference::conv2d_backward_weight(g, x, c.weight_shape(), p)))
      << "backward weight";
  EXPECT_TRUE(close_to_reference(ops::cpu::conv2d_backward_bias(g),
                                 reference::conv2d_backward_bias(g)))
      << "backward bias";
}

TEST(Conv2d, BackendMatchesReferenceOnNetworkShapes) {
  std::uint64_t seed = 10;
  for (const Case& c : fixed_cases()) check_backend_against_reference(c, seed += 10);
}

// Groups narrower than a vector (ResNeXt's and CRU-Net's first stage: 4 channels a group; 2 and
// 1 input channels too): oneDNN's forward runs them as merged, block-diagonal groups where its own
// kernel for them is the gemm fallback (conv2d_group_merge.h). All three passes, odd sizes.
TEST(Conv2d, NarrowGroupsMatchReference) {
  std::uint64_t seed = 7000;
  for (const Case& c :
       {Case{2, 32, 32, 9, 9, 3, 1, 1, 8, true}, Case{1, 64, 64, 7, 11, 3, 2, 1, 16, false},
        Case{2, 16, 32, 6, 6, 3, 1, 1, 8, false}, Case{1, 16, 16, 5, 5, 3, 1, 1, 16, true}}) {
    check_backend_against_reference(c, seed += 10);
  }
}

// Merging groups changes the weight, not the convolution: the reference gives the same output
// for the original groups and for the merged, block-diagonal ones.
TEST(Conv2d, MergedGroupWeightGivesTheSameConvolution) {
  const Tensor x = randn({2, 16, 7, 7}, 1);
  const Tensor w = randn({24, 2, 3, 3}, 2), b = randn({24}, 3);
  const Conv2dParams grouped{1, 1, 8, 1};
  const Tensor expected = reference::conv2d_forward(x, w, b, grouped);
  for (const std::int64_t merge : {2, 4, 8}) {
    SCOPED_TRACE(merge);
    const Tensor merged = ops::cpu::merge_group_weight(w, 8, merge);
    EXPECT_EQ(merged.shape(), (Shape{24, 2 * merge, 3, 3}));
    const Conv2dParams fewer{1, 1, 8 / merge, 1};
    EXPECT_TRUE(testing::all_close(reference::conv2d_forward(x, merged, b, fewer), expected));
  }
  // Block-diagonal: output 3 (original group 1, the second block of merged group 0 when two
  // merge) reads inputs 2-3 only.
  const std::vector<float> m = ops::cpu::merge_group_weight(w, 8, 2).to_vector();
  const std::vector<float> original = w.to_vector();
  for (int i = 0; i < 4; ++i) {
    for (int tap = 0; tap < 9; ++tap) {
      const float value = m[(3 * 4 + i) * 9 + tap];
      if (i < 2)
        EXPECT_EQ(value, 0.0f);
      else
        EXPECT_EQ(value, original[(3 * 2 + (i - 2)) * 9 + tap]);
    }
  }
  EXPECT_THROW(ops::cpu::merge_group_weight(w, 8, 3), ValueError);
}

// The strided 1x1 convolutions of the shortcuts (stride 2, as in every stage's first unit), odd
// sizes included: oneDNN 2.6's own strided 1x1 backward-weights kernel got x [1, 3, 10, 6] wrong
// on AVX2 and corrupted the heap, so crunet gathers the strided pixels itself (conv2d_onednn.cpp).
// Repeated: a stray write shows up as a crash or a wrong result on a later call.
TEST(Conv2d, StridedPointwiseGradientsMatchReference) {
  std::uint64_t seed = 5000;
  for (int repeat = 0; repeat < 10; ++repeat) {
    for (const Case& c : {Case{1, 3, 4, 10, 6, 1, 2, 0, 1, true}, Case{2, 8, 16, 7, 9, 1, 2, 0, 1, false},
                          Case{1, 6, 6, 11, 5, 1, 3, 0, 2, true}, Case{3, 16, 8, 8, 8, 1, 2, 0, 1, true}}) {
      check_backend_against_reference(c, seed += 10);
    }
  }
}

TEST(Conv2d, BackendMatchesReferenceOnRandomShapes) {
  std::uint64_t seed = 1000;
  for (const Case& c : random_cases(24, 77)) check_backend_against_reference(c, seed += 10);
}

// What autograd hands to the backward passes is what the reference computes.
TEST(Conv2d, AutogradGradientsMatchReference) {
  const Case c{2, 8, 8, 7, 9, 3, 2, 1, 4, true};
  Tensor x = randn(c.x_shape(), 1).requires_grad(true);
  Tensor w = randn(c.weight_shape(), 2).requires_grad(true);
  Tensor b = randn({c.c_out}, 3).requires_grad(true);
  const Tensor g = randn(c.y_shape(), 4);
  ops::conv2d(x, w, b, c.params()).backward(g);
  EXPECT_TRUE(close_to_reference(x.grad(), reference::conv2d_backward_data(g, w.detach(),
                                                                           c.x_shape(), c.params())));
  EXPECT_TRUE(close_to_reference(
      w.grad(), reference::conv2d_backward_weight(g, x.detach(), c.weight_shape(), c.params())));
  EXPECT_TRUE(close_to_reference(b.grad(), reference::conv2d_backward_bias(g)));
}

TEST(Conv2d, GradientMatchesFiniteDifferences) {
  for (const Case& c : {Case{2, 4, 6, 5, 6, 3, 2, 1, 2, true}, Case{1, 3, 3, 5, 5, 3, 1, 1, 3, true},
                        Case{2, 3, 4, 4, 3, 1, 1, 0, 1, false}, Case{1, 2, 3, 6, 7, 5, 2, 2, 1, true}}) {
    SCOPED_TRACE(c.str());
    const Conv2dParams p = c.params();
    std::vector<Tensor> inputs{randn(c.x_shape(), 1).requires_grad(true),
                               randn(c.weight_shape(), 2).requires_grad(true),
                               c.bias ? randn({c.c_out}, 3).requires_grad(true) : Tensor()};
    EXPECT_TRUE(testing::gradcheck(
        [p](const std::vector<Tensor>& t) { return ops::conv2d(t[0], t[1], t[2], p); }, inputs));
  }
}

// One weight (and bias) feeding two convolutions, as Wp does in a CRU's first unit (stride 1 for
// the body, stride 2 for the shortcut): its gradient is the sum of what each use gives alone.
TEST(Conv2d, SharedWeightGradientIsTheSumOverItsUses) {
  const Tensor x1 = randn({2, 6, 8, 8}, 1), x2 = randn({2, 6, 8, 8}, 2);
  const Tensor w0 = randn({5, 6, 1, 1}, 3), b0 = randn({5}, 4);
  const Tensor r = randn({2, 5}, 5);
  const Conv2dParams body{1, 0, 1, 1}, shortcut{2, 0, 1, 1};
  auto branch = [](const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
    return ops::global_avg_pool(ops::conv2d(x, w, b, p));
  };

  Tensor w = w0.clone().requires_grad(true), b = b0.clone().requires_grad(true);
  ops::add(branch(x1, w, b, body), branch(x2, w, b, shortcut)).backward(r);

  Tensor w1 = w0.clone().requires_grad(true), b1 = b0.clone().requires_grad(true);
  branch(x1, w1, b1, body).backward(r);
  Tensor w2 = w0.clone().requires_grad(true), b2 = b0.clone().requires_grad(true);
  branch(x2, w2, b2, shortcut).backward(r);

  std::vector<float> w_sum = w1.grad().to_vector(), b_sum = b1.grad().to_vector();
  const std::vector<float> w_other = w2.grad().to_vector(), b_other = b2.grad().to_vector();
  for (std::size_t i = 0; i < w_sum.size(); ++i) w_sum[i] += w_other[i];
  for (std::size_t i = 0; i < b_sum.size(); ++i) b_sum[i] += b_other[i];
  EXPECT_TRUE(testing::all_close(w.grad(), from_vector(w_sum, w0.shape()), 1e-5, 1e-6));
  EXPECT_TRUE(testing::all_close(b.grad(), from_vector(b_sum, b0.shape()), 1e-5, 1e-6));
  // And neither use's gradient is lost: they differ, so the sum is not twice one of them.
  EXPECT_FALSE(testing::all_close(w1.grad(), w2.grad()));
}

#if CRUNET_WITH_ONEDNN
TEST(Conv2d, OneDnnPrimitivesAreCreatedOncePerGeometry) {
  const Case c{1, 8, 16, 11, 13, 3, 1, 1, 8, true};  // a geometry no other test uses
  Tensor x = randn(c.x_shape(), 1).requires_grad(true);
  Tensor w = randn(c.weight_shape(), 2).requires_grad(true);
  Tensor b = randn({c.c_out}, 3).requires_grad(true);
  const Tensor g = randn(c.y_shape(), 4);
  const std::size_t before = ops::cpu::onednn::cached_primitive_count();
  ops::conv2d(x, w, b, c.params()).backward(g);
  const std::size_t after_first = ops::cpu::onednn::cached_primitive_count();
  EXPECT_EQ(after_first, before + 3);  // forward, backward data, backward weight
  for (int step = 0; step < 3; ++step) ops::conv2d(x, w, b, c.params()).backward(g);
  EXPECT_EQ(ops::cpu::onednn::cached_primitive_count(), after_first);
}
#endif

// Expects conv2d(x, w, b, p) to throw a ValueError whose message names conv2d and every `part`.
void expect_error(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                  const std::vector<std::string>& parts) {
  try {
    ops::conv2d(x, w, b, p);
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("conv2d", 0), 0u) << message;
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

TEST(Conv2d, ErrorsNameTheOpAndTheShapes) {
  const Tensor x = randn({2, 6, 5, 5}, 1);
  // groups not dividing the channels
  expect_error(x, randn({4, 2, 3, 3}, 2), Tensor(), {1, 1, 4, 1},
               {"groups 4", "[2, 6, 5, 5]", "[4, 2, 3, 3]"});
  expect_error(randn({2, 8, 5, 5}, 1), randn({6, 2, 3, 3}, 2), Tensor(), {1, 1, 4, 1},
               {"groups 4", "[2, 8, 5, 5]", "[6, 2, 3, 3]"});
  // wrong weight rank
  expect_error(x, randn({4, 6, 3}, 2), Tensor(), {}, {"weight", "[4, 6, 3]", "[2, 6, 5, 5]"});
  // mismatched Cin
  expect_error(x, randn({4, 5, 3, 3}, 2), Tensor(), {}, {"[2, 6, 5, 5]", "[4, 5, 3, 3]"});
  expect_error(x, randn({4, 2, 3, 3}, 2), Tensor(), {1, 1, 2, 1},
               {"[2, 6, 5, 5]", "[4, 2, 3, 3]", "groups 2"});
  // the rest of the contract
  expect_error(randn({6, 5, 5}, 1), randn({4, 6, 3, 3}, 2), Tensor(), {}, {"[6, 5, 5]"});
  expect_error(x, randn({4, 6, 3, 2}, 2), Tensor(), {}, {"square", "[4, 6, 3, 2]"});
  expect_error(x, randn({4, 6, 3, 3}, 2), randn({5}, 3), {}, {"bias", "[5]", "[4, 6, 3, 3]"});
  expect_error(x, randn({4, 6, 3, 3}, 2), Tensor(), {1, 1, 1, 2}, {"dilation", "[2, 6, 5, 5]"});
  expect_error(x, randn({4, 6, 3, 3}, 2), Tensor(), {0, 1, 1, 1}, {"stride", "[2, 6, 5, 5]"});
  expect_error(x, randn({4, 6, 7, 7}, 2), Tensor(), {}, {"empty", "[2, 6, 5, 5]", "[4, 6, 7, 7]"});
  expect_error(x, randn({4, 6, 3, 3}, 2).to(DType::Float16), Tensor(), {}, {"dtype"});
}

}  // namespace
}  // namespace crunet
