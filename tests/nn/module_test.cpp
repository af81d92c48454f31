#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

TEST(Module, NamesParametersAndBuffersDepthFirst) {
  nn::Sequential net;
  net.push_back(std::make_shared<nn::Conv2d>(3, 4, 3, ops::Conv2dParams{1, 1, 1}));
  net.push_back(std::make_shared<nn::BatchNorm2d>(4));
  std::vector<std::string> names;
  for (const auto& entry : net.state_dict()) names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "1.running_mean",
                                             "1.running_var", "1.num_batches_tracked"}));
  EXPECT_EQ(net.parameters().size(), 3u);
  EXPECT_EQ(nn::count_parameters(net), 4 * 3 * 9 + 4 + 4);
  for (const Tensor& p : net.parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(Module, SharedFactorsAreListedOnceAndReceiveSummedGradients) {
  manual_seed(1);
  auto shared = std::make_shared<nn::SharedFactors>(8, 4);
  nn::CollectiveUnitSpec spec{8, 8, 4, 1, false};
  auto first = std::make_shared<nn::CollectiveResidualUnit>(spec, shared);
  auto second = std::make_shared<nn::CollectiveResidualUnit>(spec, shared);
  // Registered by one parent only, referenced by both units.
  struct Pair : nn::Module {
    std::shared_ptr<nn::Module> a, b;
    Pair(std::shared_ptr<nn::SharedFactors> s, std::shared_ptr<nn::Module> x,
         std::shared_ptr<nn::Module> y) {
      register_module("share", std::move(s));
      a = register_module("a", std::move(x));
      b = register_module("b", std::move(y));
    }
    Tensor forward(const Tensor& x) override { return b->forward(a->forward(x)); }
    std::string kind() const override { return "Pair"; }
  } pair(shared, first, second);
  int w1_count = 0;
  for (const auto& entry : pair.named_parameters()) w1_count += entry.first.find("w1") != std::string::npos;
  EXPECT_EQ(w1_count, 1);
  pair.forward(randn({2, 8, 5, 5}, 2)).backward(randn({2, 8, 5, 5}, 3));
  EXPECT_TRUE(shared->w1().grad().defined());
}

TEST(Module, LoadStateDictReportsEveryMismatchByName) {
  nn::Linear a(3, 2);
  auto state = a.state_dict();
  state[0].second = zeros({2, 4});
  state.emplace_back("extra", zeros({1}));
  try {
    a.load_state_dict(state);
    FAIL();
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'weight' has shape [2, 4], the model expects [2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected 'extra'"), std::string::npos) << m;
  }
  nn::Linear b(3, 2);
  b.load_state_dict(nn::Linear(3, 2).state_dict());
  std::vector<nn::NamedTensor> partial{{"bias", zeros({2})}};
  EXPECT_THROW(b.load_state_dict(partial), ValueError);
  b.load_state_dict(partial, false);
  EXPECT_EQ(b.state_dict()[1].second.to_vector(), (std::vector<float>{0, 0}));
}

TEST(Module, TrainEvalSwitchesBatchNorm) {
  nn::BatchNorm2d bn(3);
  Tensor x = randn({4, 3, 2, 2}, 1);
  bn.eval();
  // Fresh running statistics (mean 0, var 1): eval is the identity up to eps.
  EXPECT_TRUE(testing::all_close(bn.forward(x), x, 1e-4, 1e-4));
  bn.train();
  Tensor y = bn.forward(x);
  EXPECT_FALSE(testing::all_close(y, x, 1e-4, 1e-4));
  EXPECT_EQ(bn.named_buffers()[2].second.to_int64_vector()[0], 1);  // num_batches_tracked
}

TEST(Module, ZeroGradDropsGradients) {
  nn::Linear layer(3, 2);
  layer.forward(randn({4, 3}, 1)).backward(ones({4, 2}));
  EXPECT_TRUE(layer.parameters()[0].grad().defined());
  layer.zero_grad();
  EXPECT_FALSE(layer.parameters()[0].grad().defined());
}

TEST(Units, ResidualUnitShapesAndGradients) {
  manual_seed(3);
  nn::ResidualUnit unit(nn::ResidualUnitSpec{8, 16, 8, 4, 2, true});
  Tensor x = randn({2, 8, 7, 7}, 4);
  Tensor y = unit.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 16, 4, 4}));
  EXPECT_THROW(nn::ResidualUnit(nn::ResidualUnitSpec{8, 16, 8, 4, 1, false}), ValueError);
}

TEST(Units, CollectiveUnitStridedProjectionShapes) {
  manual_seed(4);
  auto shared = std::make_shared<nn::SharedFactors>(16, 8);
  nn::CollectiveResidualUnit unit(nn::CollectiveUnitSpec{8, 16, 8, 2, true}, shared);
  EXPECT_EQ(unit.forward(randn({2, 8, 7, 7}, 5)).shape(), (Shape{2, 16, 4, 4}));
  // One projection weight, two BNs (stride 2).
  std::vector<std::string> names;
  for (const auto& entry : unit.named_parameters()) names.push_back(entry.first);
  EXPECT_NE(std::find(names.begin(), names.end(), "proj_weight"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "proj_bn2.bn.weight"), names.end());
}

}  // namespace
}  // namespace crunet
