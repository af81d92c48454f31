// Every CPU op gives the same values and gradients for an NCHW input and for the same input laid
// out channels-last, and keeps the layout the way the CPU backend promises: conv2d (oneDNN) makes
// channels-last outputs, the other ops keep their input's layout.
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "crunet/crunet.h"
#include "support/gradcheck.h"
#include "support/inputs.h"

namespace crunet {
namespace {

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

struct LayoutRun {
  Tensor y;
  std::vector<Tensor> grads;
};

// f on leaves made from `inputs` (the first `layout_count` of them in `format`), then backward
// from `upstream` (in its own layout).
LayoutRun run(const Function& f, const std::vector<Tensor>& inputs, std::size_t layout_count,
              MemoryFormat format, const Tensor& upstream) {
  std::vector<Tensor> leaves;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    // A fresh leaf either way (clone() is NCHW; contiguous(format) copies it when asked).
    Tensor leaf = inputs[i].clone();
    if (i < layout_count) leaf = leaf.contiguous(format);
    leaf.requires_grad(true);
    leaves.push_back(leaf);
  }
  LayoutRun r;
  r.y = f(leaves);
  r.y.backward(upstream);
  for (const Tensor& leaf : leaves) r.grads.push_back(leaf.grad());
  return r;
}

// Runs f both ways and compares; returns the channels-last run for layout checks.
LayoutRun expect_same_both_ways(const Function& f, const std::vector<Tensor>& inputs,
                                std::size_t layout_count = 1) {
  const Tensor upstream = randn(f(inputs).shape(), 99);
  const LayoutRun nchw = run(f, inputs, layout_count, MemoryFormat::Contiguous, upstream);
  Tensor upstream_nhwc = upstream;
  if (upstream.dim() == 4) upstream_nhwc = upstream.contiguous(MemoryFormat::ChannelsLast);
  const LayoutRun nhwc = run(f, inputs, layout_count, MemoryFormat::ChannelsLast, upstream_nhwc);
  EXPECT_TRUE(testing::all_close(nhwc.y, nchw.y));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_TRUE(testing::all_close(nhwc.grads[i], nchw.grads[i])) << "gradient of input " << i;
  }
  return nhwc;
}

struct ConvCase {
  std::string name;
  Shape x, w;
  ops::Conv2dParams params;
  bool bias;
};

// The case's name in test output instead of its bytes.
void PrintTo(const ConvCase& c, std::ostream* out) { *out << c.name; }

class ConvLayoutTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvLayoutTest, SameValuesAndChannelsLastOutput) {
  const ConvCase& c = GetParam();
  std::vector<Tensor> inputs{randn(c.x, 1), randn(c.w, 2)};
  if (c.bias) inputs.push_back(randn({c.w[0]}, 3));
  const LayoutRun nhwc = expect_same_both_ways(
      [&](const std::vector<Tensor>& in) {
        return ops::conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), c.params);
      },
      inputs);
#if CRUNET_WITH_ONEDNN
  EXPECT_EQ(nhwc.y.memory_format(), MemoryFormat::ChannelsLast);
  EXPECT_EQ(nhwc.grads[0].memory_format(), MemoryFormat::ChannelsLast);
#endif
  EXPECT_TRUE(nhwc.grads[1].is_contiguous());  // weights stay OIHW
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvLayoutTest,
    // "pointwise" and "pointwise_wide": channels-last backward passes through matrix products
    // (conv2d_pointwise_matmul.h) against NCHW's convolution; "pointwise_strided" its
    // backward-weights through the gather of the pixels it reads, then that product.
    ::testing::Values(ConvCase{"pointwise", {2, 8, 9, 9}, {16, 8, 1, 1}, {}, false},
                      ConvCase{"pointwise_wide", {4, 24, 12, 12}, {40, 24, 1, 1}, {}, false},
                      ConvCase{
                          "pointwise_strided", {2, 8, 9, 9}, {16, 8, 1, 1}, {2, 0, 1, 1}, false},
                      ConvCase{"stem", {2, 3, 15, 15}, {8, 3, 7, 7}, {2, 3, 1, 1}, true},
                      ConvCase{"strided", {2, 8, 9, 9}, {16, 8, 3, 3}, {2, 1, 1, 1}, false},
                      ConvCase{"grouped", {2, 8, 7, 7}, {8, 2, 3, 3}, {1, 1, 4, 1}, false},
                      ConvCase{"depthwise", {2, 8, 9, 9}, {8, 1, 3, 3}, {2, 1, 8, 1}, false}),
    [](const auto& info) { return info.param.name; });

TEST(OpLayouts, BatchNormTrainingAndEval) {
  for (const bool training : {true, false}) {
    const Tensor x = randn({3, 16, 5, 7}, 4);
    const Tensor mean = randn({16}, 5), var = rand_uniform({16}, 0.5, 2.0, 6);
    const LayoutRun nhwc = expect_same_both_ways(
        [&](const std::vector<Tensor>& in) {
          return ops::batch_norm(in[0], in[1], in[2], mean.clone(), var.clone(),
                                 {training, 0.1f, 1e-5f});
        },
        {x, rand_uniform({16}, 0.5, 1.5, 7), randn({16}, 8)});
    EXPECT_EQ(nhwc.y.memory_format(), MemoryFormat::ChannelsLast) << "training " << training;
  }
}

TEST(OpLayouts, RunningStatisticsDoNotDependOnTheLayout) {
  const Tensor x = randn({3, 16, 5, 7}, 4);
  std::vector<std::vector<float>> means;
  for (const MemoryFormat format : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    Tensor mean = zeros({16}), var = ones({16});
    ops::batch_norm(x.contiguous(format), Tensor(), Tensor(), mean, var, {true, 0.1f, 1e-5f});
    means.push_back(mean.to_vector());
    means.push_back(var.to_vector());
  }
  EXPECT_TRUE(testing::closeness(means[0], means[2], 1e-5, 1e-6) <= 1.0);
  EXPECT_TRUE(testing::closeness(means[1], means[3], 1e-5, 1e-6) <= 1.0);
}

TEST(OpLayouts, ReluAddAndPools) {
  const Tensor x = testing::distinct_values({2, 16, 9, 9}, 9);
  const LayoutRun relu =
      expect_same_both_ways([](const std::vector<Tensor>& in) { return ops::relu(in[0]); }, {x});
  EXPECT_EQ(relu.y.memory_format(), MemoryFormat::ChannelsLast);

  // a channels-last, b NCHW: the sum is in a's layout and both gradients are right.
  const LayoutRun add =
      expect_same_both_ways([](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); },
                            {x, randn({2, 16, 9, 9}, 10)}, 1);
  EXPECT_EQ(add.y.memory_format(), MemoryFormat::ChannelsLast);

  const LayoutRun max = expect_same_both_ways(
      [](const std::vector<Tensor>& in) {
        return ops::max_pool2d(in[0], {3, 2, 1});
      },
      {x});
  const LayoutRun avg = expect_same_both_ways(
      [](const std::vector<Tensor>& in) {
        return ops::avg_pool2d(in[0], {3, 2, 1});
      },
      {x});
#if CRUNET_WITH_ONEDNN
  EXPECT_EQ(max.y.memory_format(), MemoryFormat::ChannelsLast);
  EXPECT_EQ(avg.y.memory_format(), MemoryFormat::ChannelsLast);
#endif
  const LayoutRun global = expect_same_both_ways(
      [](const std::vector<Tensor>& in) { return ops::global_avg_pool(in[0]); }, {x});
  EXPECT_EQ(global.grads[0].memory_format(), MemoryFormat::ChannelsLast);
}

// A gradient reaching one tensor from two consumers is summed across layouts.
TEST(OpLayouts, GradientsOfTwoConsumersSumAcrossLayouts) {
  const Tensor x = testing::away_from_zero({2, 8, 6, 6}, 12), w = randn({8, 8, 1, 1}, 13);
  const Function two_paths = [](const std::vector<Tensor>& in) {
    const Tensor h = ops::relu(in[0]);
    return ops::add(ops::conv2d(h, in[1]), h);  // h's gradient: conv's (NHWC) plus add's
  };
  expect_same_both_ways(two_paths, {x, w});
}

}  // namespace
}  // namespace crunet
