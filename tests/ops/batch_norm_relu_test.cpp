// batch_norm_relu, the fused "BNAC": the same values, running statistics and gradients as relu of
// batch_norm, in training and evaluation, NCHW and channels-last, with partial gradients; and a
// finite-difference check of its own backward.
#include <gtest/gtest.h>

#include <vector>

#include "crunet/crunet.h"
#include "support/gradcheck.h"
#include "support/inputs.h"

namespace crunet {
namespace {

struct Outcome {
  Tensor y, running_mean, running_var;
  std::vector<Tensor> grads;  // x, weight, bias (undefined where not asked for)
};

Outcome run(bool fused, const Tensor& x_in, MemoryFormat format, bool training,
            std::vector<bool> needs, const Tensor& upstream) {
  Tensor x = x_in.clone().contiguous(format);
  Tensor weight = rand_uniform({x.size(1)}, 0.5, 1.5, 21);
  Tensor bias = randn({x.size(1)}, 22);
  std::vector<Tensor*> leaves{&x, &weight, &bias};
  for (std::size_t i = 0; i < 3; ++i) leaves[i]->requires_grad(needs[i]);
  Outcome o{Tensor(), randn({x.size(1)}, 23), rand_uniform({x.size(1)}, 0.5, 2.0, 24), {}};
  const ops::BatchNormParams params{training, 0.1f, 1e-5f};
  o.y = fused ? ops::batch_norm_relu(x, weight, bias, o.running_mean, o.running_var, params)
              : ops::relu(ops::batch_norm(x, weight, bias, o.running_mean, o.running_var, params));
  if (needs[0] || needs[1] || needs[2]) o.y.backward(upstream);
  for (Tensor* leaf : leaves) o.grads.push_back(leaf->requires_grad() ? leaf->grad() : Tensor());
  return o;
}

TEST(BatchNormRelu, MatchesReluOfBatchNormEverywhere) {
  const Shape shape{3, 24, 7, 5};
  const Tensor x = randn(shape, 20);
  const Tensor upstream = randn(shape, 25);
  const std::vector<std::vector<bool>> need_sets{
      {true, true, true},
      {false, true, true},
      {false, false, true},
      {true, false, false},
      {false, false, false}};  // the last: evaluation takes the fused path only without gradients
  for (const MemoryFormat format : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    for (const bool training : {true, false}) {
      for (const auto& needs : need_sets) {
        SCOPED_TRACE(::testing::Message()
                     << "channels-last " << (format == MemoryFormat::ChannelsLast) << ", training "
                     << training << ", needs " << needs[0] << needs[1] << needs[2]);
        const Outcome fused = run(true, x, format, training, needs, upstream);
        const Outcome pair = run(false, x, format, training, needs, upstream);
        EXPECT_TRUE(testing::all_close(fused.y, pair.y, 1e-5, 1e-6));
        EXPECT_EQ(fused.y.memory_format(), x.contiguous(format).memory_format());
        EXPECT_TRUE(testing::all_close(fused.running_mean, pair.running_mean, 1e-6, 1e-7));
        EXPECT_TRUE(testing::all_close(fused.running_var, pair.running_var, 1e-6, 1e-7));
        for (std::size_t i = 0; i < 3; ++i) {
          ASSERT_EQ(fused.grads[i].defined(), pair.grads[i].defined()) << "input " << i;
          if (fused.grads[i].defined()) {
            EXPECT_TRUE(testing::all_close(fused.grads[i], pair.grads[i], 1e-4, 1e-5))
                << "gradient of input " << i;
          }
        }
      }
    }
  }
}

TEST(BatchNormRelu, TrainingGradientMatchesFiniteDifferences) {
  // Away from the kink: x spread so that few normalised values sit near -bias / weight.
  const Tensor x = testing::away_from_zero({2, 6, 4, 3}, 30, 0.1f);
  const Tensor weight = rand_uniform({6}, 0.5, 1.5, 31);
  const Tensor bias = full({6}, 0.0);
  testing::GradcheckOptions options;
  options.eps = 1e-3;
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& in) {
        return ops::batch_norm_relu(in[0], in[1], in[2], Tensor(), Tensor(), {true, 0.1f, 1e-5f});
      },
      {x.clone().requires_grad(true), weight.clone().requires_grad(true),
       bias.clone().requires_grad(true)},
      options));
}

TEST(BatchNormRelu, BNReLUModuleUsesItAndKeepsCounting) {
  nn::BNReLU unit(8);
  const Tensor x = randn({2, 8, 5, 5}, 40);
  const Tensor y = unit.forward(x);
  for (float v : y.to_vector()) ASSERT_GE(v, 0.0f);
  for (const auto& [name, t] : unit.state_dict()) {
    if (name.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(t.to_int64_vector(), std::vector<std::int64_t>{1});
    }
  }
}

}  // namespace
}  // namespace crunet
