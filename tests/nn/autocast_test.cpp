// The bfloat16 autocast policy (crunet/nn/autocast.h) on the CPU: the guard, and that without it
// the layers are exactly the float32 ops. Its effect on the GPU: tests/gpu/precision_test.cpp.
#include <thread>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "crunet/ops/cpu_features.h"

namespace crunet {
namespace {

TEST(Autocast, GuardsNestAndRestore) {
  EXPECT_EQ(nn::autocast_dtype(), DType::Float32);
  EXPECT_FALSE(nn::autocast_enabled());
  {
    nn::AutocastGuard outer(DType::BFloat16);
    EXPECT_EQ(nn::autocast_dtype(), DType::BFloat16);
    {
      nn::AutocastGuard inner(DType::Float32);
      EXPECT_FALSE(nn::autocast_enabled());
    }
    EXPECT_TRUE(nn::autocast_enabled());
  }
  EXPECT_EQ(nn::autocast_dtype(), DType::Float32);
  EXPECT_THROW(nn::AutocastGuard(DType::Float16), ValueError);
  EXPECT_EQ(nn::autocast_dtype(), DType::Float32);
}

TEST(Autocast, IsPerThread) {
  nn::AutocastGuard guard(DType::BFloat16);
  DType seen = DType::BFloat16;
  std::thread([&seen] { seen = nn::autocast_dtype(); }).join();
  EXPECT_EQ(seen, DType::Float32);
}

TEST(Autocast, OffTheLayersAreTheFloat32Ops) {
  manual_seed(3);
  nn::Conv2d conv(4, 6, 3, {1, 1, 1});
  nn::Linear linear(6, 5);
  const Tensor x = randn({2, 4, 5, 5}, 4);
  const Tensor y = conv.forward(x);
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(y.to_vector(), ops::conv2d(x, conv.weight(), Tensor(), {1, 1, 1}).to_vector());
  const Tensor h = randn({2, 6}, 5);
  const auto params = linear.named_parameters();
  EXPECT_EQ(linear.forward(h).to_vector(),
            ops::linear(h, params[0].second, params[1].second).to_vector());
}

TEST(Autocast, BFloat16ConvolutionOnTheCpuRunsWhereTheCpuHasItAndIsRefusedByNameElsewhere) {
  // The guard casts x and the weight; the CPU convolution then computes in bfloat16 where the CPU
  // has avx512_bf16 / AMX, and refuses it, naming the op, the type and the feature, elsewhere.
  nn::Conv2d conv(3, 4, 1);
  nn::AutocastGuard guard(DType::BFloat16);
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  if (support.bf16) {
    EXPECT_EQ(conv.forward(randn({1, 3, 4, 4}, 6)).dtype(), DType::BFloat16);
    return;
  }
  try {
    conv.forward(randn({1, 3, 4, 4}, 6));
    FAIL() << "a bfloat16 convolution ran on a CPU without bfloat16";
  } catch (const NotImplementedError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("conv2d"), std::string::npos) << message;
    EXPECT_NE(message.find("bfloat16"), std::string::npos) << message;
    EXPECT_NE(message.find("avx512_bf16"), std::string::npos) << message;
  }
}

TEST(Autocast, LinearRunsInFloat32AndCastsItsInputUp) {
  manual_seed(7);
  nn::Linear linear(6, 3);
  const Tensor h = randn({2, 6}, 8);
  const Tensor h_bf16 = ops::cast(h, DType::BFloat16);
  nn::AutocastGuard guard(DType::BFloat16);
  const Tensor logits = linear.forward(h_bf16);
  EXPECT_EQ(logits.dtype(), DType::Float32);
  const auto params = linear.named_parameters();
  EXPECT_EQ(logits.to_vector(),
            ops::linear(ops::cast(h_bf16, DType::Float32), params[0].second, params[1].second)
                .to_vector());
}

TEST(Autocast, CrossEntropyComputesBFloat16LogitsInFloat32) {
  const Tensor logits = ops::cast(randn({4, 5}, 9), DType::BFloat16).detach().requires_grad(true);
  const Tensor targets = from_int64_vector({0, 1, 2, 3}, {4});
  const Tensor loss = ops::cross_entropy(logits, targets);
  EXPECT_EQ(loss.dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(loss.item(),
                  ops::cross_entropy(ops::cast(logits, DType::Float32), targets).item());
  loss.backward();
  EXPECT_EQ(logits.grad().dtype(), DType::BFloat16);
}

}  // namespace
}  // namespace crunet
