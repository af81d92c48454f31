// The CPU's bfloat16 path (train.precision: bf16 on a CPU with avx512_bf16 or AMX): each op's
// forward and backward in bfloat16 against the same op in float32 on the same, bfloat16-rounded
// inputs. The inputs being exact in both types, what differs is only the rounding of the outputs
// (8 bits of mantissa) and the order of float32 sums inside oneDNN, so the tolerance is a few
// bfloat16 ulps of the largest value. Float32 leaves are cast to bfloat16 inside the graph, as
// autocast does, so the gradients arrive in float32 like a master weight's. Skips, saying so, on a
// CPU without the feature; the refusal there is tested by tests/train/precision_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "crunet/crunet.h"
#include "crunet/ops/cpu_features.h"
#if CRUNET_WITH_ONEDNN
#include "ops/cpu/conv2d_pointwise_matmul.h"
#endif

namespace crunet {
namespace {

constexpr float kTolerance = 1e-2f;  // of the largest |value|; a bfloat16 ulp is 2^-8 = 0.4%

// An op of float32 leaves: `compute` is the type its activations run in (cast inside the graph).
using Op = std::function<Tensor(const std::vector<Tensor>& leaves, DType compute)>;

Tensor in_type(const Tensor& t, DType dtype) {
  return t.dtype() == dtype ? t : ops::cast(t, dtype);
}

// Values exactly representable in bfloat16.
Tensor bf16_exact(const Tensor& t) {
  return ops::cast(ops::cast(t, DType::BFloat16), DType::Float32);
}

struct Run {
  std::vector<float> y;
  std::vector<std::vector<float>> grads;
  DType y_dtype = DType::Float32;
  MemoryFormat y_format = MemoryFormat::Contiguous;
};

// Forward, then backward of sum(y * grad_y) (grad_y fixed, exact in bfloat16).
Run run_op(const Op& op, const std::vector<Tensor>& inputs, DType compute, std::uint64_t seed) {
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    Tensor leaf = input.contiguous(input.memory_format()).detach();
    leaf = ops::cast(ops::cast(leaf, DType::BFloat16), DType::Float32).detach();
    leaves.push_back(leaf.requires_grad(true));
  }
  const Tensor y = op(leaves, compute);
  Run run;
  run.y_dtype = y.dtype();
  run.y_format = y.memory_format();
  run.y = in_type(y, DType::Float32).to_vector();
  // In y's layout, as the next op's backward would give it (channels-last reaches the pointwise
  // matrix-product path of conv2d_pointwise_matmul.h).
  const Tensor grad_y = bf16_exact(randn(y.shape(), seed)).contiguous(y.memory_format());
  y.backward(in_type(grad_y, y.dtype()));
  for (const Tensor& leaf : leaves) {
    run.grads.push_back(leaf.grad().defined() ? leaf.grad().to_vector() : std::vector<float>{});
  }
  return run;
}

// max |a - b| over max |b|.
float relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  float diff = 0.0f, scale = 1e-12f;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / scale;
}

// The check every op gets: bfloat16 in, bfloat16 out, in the input's layout, close to float32.
void expect_bf16_matches_fp32(const std::string& what, const Op& op,
                              const std::vector<Tensor>& inputs) {
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  if (!support.bf16) GTEST_SKIP() << "this CPU has no avx512_bf16 / amx_bf16: " << support.missing;
  std::vector<Tensor> exact;
  for (const Tensor& t : inputs) exact.push_back(bf16_exact(t).contiguous(t.memory_format()));
  const Run reference = run_op(op, exact, DType::Float32, 99);
  const Run bf16 = run_op(op, exact, DType::BFloat16, 99);
  SCOPED_TRACE(what);
  EXPECT_EQ(bf16.y_dtype, DType::BFloat16);
  EXPECT_EQ(bf16.y_format, reference.y_format);
  ASSERT_EQ(bf16.y.size(), reference.y.size());
  EXPECT_LT(relative_error(bf16.y, reference.y), kTolerance) << "forward";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_EQ(bf16.grads[i].size(), reference.grads[i].size()) << "gradient of input " << i;
    if (reference.grads[i].empty()) continue;
    EXPECT_LT(relative_error(bf16.grads[i], reference.grads[i]), kTolerance)
        << "gradient of input " << i;
  }
}

Tensor channels_last(const Tensor& t) { return t.contiguous(MemoryFormat::ChannelsLast); }

struct ConvCase {
  Shape x, weight;
  ops::Conv2dParams params;
  bool bias;
  bool channels_last;
};

TEST(CpuBf16, Conv2dForwardAndBothBackwardsMatchFloat32) {
  const std::vector<ConvCase> cases = {
      {{2, 16, 7, 7}, {12, 16, 1, 1}, {1, 0, 1, 1}, false, true},   // CRU 1x1 (matrix products)
      {{3, 40, 13, 11}, {72, 40, 1, 1}, {1, 0, 1, 1}, false, true}, // odd sizes (matrix products)
      {{2, 16, 8, 8}, {24, 16, 1, 1}, {2, 0, 1, 1}, false, true},   // 1x1 stride 2
      {{2, 64, 9, 7}, {64, 2, 3, 3}, {1, 1, 32, 1}, false, true},   // grouped 3x3, 32 groups
      {{2, 32, 8, 8}, {32, 1, 3, 3}, {2, 1, 32, 1}, false, true},   // depthwise 3x3 stride 2
      {{1, 3, 17, 17}, {8, 3, 7, 7}, {2, 3, 1, 1}, false, false},   // the stem, NCHW input
      {{2, 5, 6, 6}, {7, 5, 3, 3}, {1, 1, 1, 1}, true, false},      // with a bias
  };
  std::uint64_t seed = 1;
  for (const ConvCase& c : cases) {
    Tensor x = randn(c.x, seed++);
    if (c.channels_last) x = channels_last(x);
    std::vector<Tensor> inputs = {x, randn(c.weight, seed++)};
    if (c.bias) inputs.push_back(randn({c.weight[0]}, seed++));
    const Op op = [&c](const std::vector<Tensor>& t, DType dtype) {
      const Tensor bias = c.bias ? in_type(t[2], dtype) : Tensor();
      return ops::conv2d(in_type(t[0], dtype), in_type(t[1], dtype), bias, c.params);
    };
    expect_bf16_matches_fp32("conv x " + shape_str(c.x) + " weight " + shape_str(c.weight), op,
                             inputs);
  }
}

#if CRUNET_WITH_ONEDNN
TEST(CpuBf16, PointwiseBackwardTakesTheMatrixProductsOnlyWhereTheyApply) {
  using ops::cpu::onednn::pointwise_backward_data_by_matmul;
  using ops::cpu::onednn::pointwise_backward_weight_by_matmul;
  const Tensor nhwc = ops::cast(channels_last(randn({2, 16, 7, 7}, 3)), DType::BFloat16);
  const Tensor nchw = ops::cast(randn({2, 16, 7, 7}, 3), DType::BFloat16);
  const Shape pointwise = {12, 16, 1, 1};
  EXPECT_TRUE(pointwise_backward_weight_by_matmul(pointwise, {1, 0, 1, 1}, nhwc, nhwc));
  EXPECT_TRUE(pointwise_backward_data_by_matmul(pointwise, {1, 0, 1, 1}, nhwc));
  EXPECT_FALSE(pointwise_backward_weight_by_matmul(pointwise, {2, 0, 1, 1}, nhwc, nhwc));
  EXPECT_FALSE(pointwise_backward_data_by_matmul(pointwise, {2, 0, 1, 1}, nhwc));
  EXPECT_FALSE(pointwise_backward_weight_by_matmul(pointwise, {1, 0, 1, 1}, nchw, nhwc));
  EXPECT_FALSE(pointwise_backward_data_by_matmul(pointwise, {1, 0, 1, 1}, nchw));
  EXPECT_FALSE(pointwise_backward_weight_by_matmul(pointwise, {1, 0, 1, 1}, nhwc, nchw));
  EXPECT_FALSE(pointwise_backward_weight_by_matmul({12, 4, 1, 1}, {1, 0, 4, 1}, nhwc, nhwc));
  EXPECT_FALSE(pointwise_backward_weight_by_matmul({12, 16, 3, 3}, {1, 1, 1, 1}, nhwc, nhwc));
  EXPECT_FALSE(pointwise_backward_data_by_matmul({12, 16, 3, 3}, {1, 1, 1, 1}, nhwc));
  // float32: both passes, as in bfloat16.
  const Tensor fp32 = channels_last(randn({2, 16, 7, 7}, 3));
  EXPECT_TRUE(pointwise_backward_weight_by_matmul(pointwise, {1, 0, 1, 1}, fp32, fp32));
  EXPECT_TRUE(pointwise_backward_data_by_matmul(pointwise, {1, 0, 1, 1}, fp32));
  EXPECT_FALSE(pointwise_backward_weight_by_matmul(pointwise, {1, 0, 1, 1}, fp32, nhwc));
}
#endif

TEST(CpuBf16, BatchNormTrainingAndEvalKeepFloat32ParametersAndStatistics) {
  for (const bool training : {true, false}) {
    const Tensor x = channels_last(randn({4, 6, 5, 5}, 11));
    const Tensor w = randn({6}, 12), b = randn({6}, 13);
    Tensor mean = randn({6}, 14), var = ops::cast(ops::cast(ones({6}), DType::BFloat16),
                                                   DType::Float32);
    const Op op = [&](const std::vector<Tensor>& t, DType dtype) {
      Tensor m = mean.contiguous().detach(), v = var.contiguous().detach();
      m = ops::cast(ops::cast(m, DType::BFloat16), DType::Float32);
      v = ops::cast(ops::cast(v, DType::BFloat16), DType::Float32);
      return ops::batch_norm(in_type(t[0], dtype), t[1], t[2], m, v, {training, 0.1f, 1e-5f});
    };
    expect_bf16_matches_fp32(training ? "batch_norm training" : "batch_norm eval", op, {x, w, b});
  }
}

TEST(CpuBf16, FusedBatchNormReluMatchesFloat32) {
  const Tensor x = channels_last(randn({4, 8, 6, 5}, 21));
  const Op op = [](const std::vector<Tensor>& t, DType dtype) {
    return ops::batch_norm_relu(in_type(t[0], dtype), t[1], t[2], Tensor(), Tensor(), {});
  };
  expect_bf16_matches_fp32("batch_norm_relu", op, {x, randn({8}, 22), randn({8}, 23)});
}

TEST(CpuBf16, BatchNormRunningStatisticsUpdateInFloat32) {
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  if (!support.bf16) GTEST_SKIP() << "this CPU has no avx512_bf16 / amx_bf16: " << support.missing;
  const Tensor x = bf16_exact(channels_last(randn({4, 3, 5, 5}, 31))).contiguous(
      MemoryFormat::ChannelsLast);
  Tensor mean32 = zeros({3}), var32 = ones({3}), mean16 = zeros({3}), var16 = ones({3});
  ops::batch_norm(x, Tensor(), Tensor(), mean32, var32, {});
  ops::batch_norm(ops::cast(x, DType::BFloat16), Tensor(), Tensor(), mean16, var16, {});
  EXPECT_EQ(mean16.dtype(), DType::Float32);
  EXPECT_LT(relative_error(mean16.to_vector(), mean32.to_vector()), 1e-5f);
  EXPECT_LT(relative_error(var16.to_vector(), var32.to_vector()), 1e-5f);
}

TEST(CpuBf16, ReluAddAndPoolsMatchFloat32) {
  const Tensor x = channels_last(randn({2, 5, 9, 7}, 41));
  const Tensor other = channels_last(randn({2, 5, 9, 7}, 42));
  expect_bf16_matches_fp32("relu", [](const std::vector<Tensor>& t, DType dtype) {
    return ops::relu(in_type(t[0], dtype));
  }, {x});
  expect_bf16_matches_fp32("add", [](const std::vector<Tensor>& t, DType dtype) {
    return ops::add(in_type(t[0], dtype), in_type(t[1], dtype));
  }, {x, other});
  expect_bf16_matches_fp32("add, NCHW + channels-last", [](const std::vector<Tensor>& t,
                                                           DType dtype) {
    return ops::add(in_type(t[0], dtype), in_type(t[1], dtype));
  }, {x.contiguous(), other});
  expect_bf16_matches_fp32("max_pool2d", [](const std::vector<Tensor>& t, DType dtype) {
    return ops::max_pool2d(in_type(t[0], dtype), {3, 2, 1});
  }, {x});
  expect_bf16_matches_fp32("avg_pool2d", [](const std::vector<Tensor>& t, DType dtype) {
    return ops::avg_pool2d(in_type(t[0], dtype), {2, 2, 0});
  }, {x});
  expect_bf16_matches_fp32("global_avg_pool", [](const std::vector<Tensor>& t, DType dtype) {
    return ops::global_avg_pool(in_type(t[0], dtype));
  }, {x});
}

// A whole bfloat16 training step of a zoo unit's worth of ops through autocast, as the trainer
// runs it: the loss and every parameter's gradient close to float32's.
TEST(CpuBf16, AutocastConvBnReluStackMatchesFloat32) {
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  if (!support.bf16) GTEST_SKIP() << "this CPU has no avx512_bf16 / amx_bf16: " << support.missing;
  const Tensor x = bf16_exact(randn({4, 8, 8, 8}, 51));
  std::vector<float> losses;
  std::vector<std::vector<float>> grads;
  for (const DType dtype : {DType::Float32, DType::BFloat16}) {
    manual_seed(5);
    nn::Conv2d conv1(8, 16, 1), conv2(16, 16, 3, {1, 1, 4, 1});
    nn::BatchNorm2d bn(16);
    nn::AutocastGuard guard(dtype);
    const Tensor h = ops::relu(bn.forward(conv1.forward(x)));
    const Tensor y = ops::global_avg_pool(conv2.forward(h));
    const Tensor loss = ops::cross_entropy(y, from_int64_vector({1, 2, 3, 4}, {4}));
    loss.backward();
    losses.push_back(loss.to_vector()[0]);
    grads.push_back(conv1.weight().grad().to_vector());
  }
  EXPECT_NEAR(losses[1], losses[0], 0.02f * std::abs(losses[0]));
  EXPECT_LT(relative_error(grads[1], grads[0]), 0.05f);
}

}  // namespace
}  // namespace crunet
