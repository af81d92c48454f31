// Every zoo model runs a forward and backward pass at batch 2 on the CPU at its own input size.
#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

class ZooStep : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooStep, ForwardBackwardAtBatchTwo) {
  manual_seed(1);
  auto network = models::build(GetParam());
  const auto& spec = network->spec();
  Tensor x = randn({2, spec.in_channels, spec.input_size, spec.input_size}, 2);
  Tensor logits = network->forward(x);
  ASSERT_EQ(logits.shape(), (Shape{2, spec.classes}));
  Tensor loss = ops::cross_entropy(logits, from_int64_vector({0, 1}, {2}));
  loss.backward();
  for (const auto& [name, parameter] : network->named_parameters()) {
    ASSERT_TRUE(parameter.grad().defined()) << name;
  }
  EXPECT_TRUE(std::isfinite(loss.item()));
}

INSTANTIATE_TEST_SUITE_P(All, ZooStep, ::testing::ValuesIn(models::zoo_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace crunet
