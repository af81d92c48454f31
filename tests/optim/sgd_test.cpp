#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

// Three steps of SGD on p with fixed gradients, against the rule written out in double.
void check_rule(bool nesterov, double momentum, double wd) {
  const std::vector<float> start{1.0f, -2.0f, 0.5f};
  const std::vector<std::vector<float>> grads{{0.1f, 0.2f, -0.3f}, {-0.5f, 0.0f, 0.25f},
                                              {0.3f, -0.1f, 0.05f}};
  Tensor p = from_vector(start, {3}).requires_grad(true);
  optim::SGD sgd({{"p", p}}, optim::SGDOptions{0.1, momentum, nesterov, wd, optim::WeightDecayScope::All});
  std::vector<double> expected(start.begin(), start.end()), buf(3, 0.0);
  for (std::size_t step = 0; step < grads.size(); ++step) {
    p.set_grad(from_vector(grads[step], {3}));
    sgd.step();
    for (int i = 0; i < 3; ++i) {
      const double d = grads[step][i] + wd * expected[i];
      buf[i] = step == 0 ? d : momentum * buf[i] + d;
      expected[i] -= 0.1 * (nesterov ? d + momentum * buf[i] : buf[i]);
    }
  }
  const std::vector<float> got = p.to_vector();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << i;
}

TEST(SGD, NesterovWithWeightDecay) { check_rule(true, 0.9, 5e-4); }
TEST(SGD, PlainMomentum) { check_rule(false, 0.9, 0.0); }
TEST(SGD, NoMomentum) { check_rule(false, 0.0, 1e-2); }

TEST(SGD, SkipsParametersWithoutGradientAndCanSpareNormsFromDecay) {
  Tensor w = ones({2, 2}).requires_grad(true);
  Tensor b = ones({2}).requires_grad(true);
  optim::SGD sgd({{"w", w}, {"b", b}},
                 optim::SGDOptions{1.0, 0.0, false, 0.5, optim::WeightDecayScope::Weights});
  b.set_grad(zeros({2}));
  sgd.step();
  EXPECT_EQ(w.to_vector(), std::vector<float>(4, 1.0f));  // no gradient: untouched
  EXPECT_EQ(b.to_vector(), std::vector<float>(2, 1.0f));  // 1-D: not decayed
  w.set_grad(zeros({2, 2}));
  sgd.step();
  EXPECT_EQ(w.to_vector(), std::vector<float>(4, 0.5f));  // decayed
}

// Which parameter of a conv + BN + linear net each scope decays, by its state-dict name: with a
// zero gradient, a decayed parameter moves (p -= lr * wd * p) and a spared one stays.
TEST(SGD, DecayScopesFollowMXNetNamesForWeightsAndGammas) {
  const struct {
    optim::WeightDecayScope scope;
    std::set<std::string> decayed;
  } cases[] = {
      {optim::WeightDecayScope::All,
       {"conv.weight", "bn.weight", "bn.bias", "fc.weight", "fc.bias", "cru.w3"}},
      {optim::WeightDecayScope::WeightsAndGammas,
       {"conv.weight", "bn.weight", "fc.weight", "cru.w3"}},
      {optim::WeightDecayScope::Weights, {"conv.weight", "fc.weight", "cru.w3"}},
  };
  for (const auto& c : cases) {
    std::vector<nn::NamedTensor> parameters = {
        {"conv.weight", ones({2, 1, 3, 3})}, {"bn.weight", ones({2})}, {"bn.bias", ones({2})},
        {"fc.weight", ones({3, 2})},         {"fc.bias", ones({3})},   {"cru.w3", ones({2, 1, 3, 3})}};
    for (auto& [name, p] : parameters) p.requires_grad(true);
    optim::SGD sgd(parameters, optim::SGDOptions{1.0, 0.0, false, 0.5, c.scope});
    for (auto& [name, p] : parameters) p.set_grad(zeros_like(p));
    sgd.step();
    for (const auto& [name, p] : parameters) {
      const float expected = c.decayed.count(name) ? 0.5f : 1.0f;
      EXPECT_EQ(p.to_vector()[0], expected)
          << name << " under " << optim::weight_decay_scope_name(c.scope);
    }
  }
}

TEST(SGD, MomentumStateRoundTrips) {
  Tensor p = from_vector({1.0f, 2.0f}, {2}).requires_grad(true);
  optim::SGD a({{"p", p}}, optim::SGDOptions{});
  p.set_grad(from_vector({0.5f, -0.5f}, {2}));
  a.step();
  Tensor q = from_vector({1.0f, 2.0f}, {2}).requires_grad(true);
  q.copy_(p);
  optim::SGD b({{"p", q}}, optim::SGDOptions{});
  b.load_state_dict(a.state_dict());
  p.set_grad(from_vector({0.1f, 0.2f}, {2}));
  q.set_grad(from_vector({0.1f, 0.2f}, {2}));
  a.step();
  b.step();
  EXPECT_EQ(p.to_vector(), q.to_vector());
  EXPECT_THROW(b.load_state_dict({{"momentum.other", zeros({2})}}), ValueError);
}

TEST(Schedule, StepMultistepCosineWarmup) {
  optim::ScheduleOptions step;
  step.type = "step";
  step.base_lr = 0.1;
  step.step_epochs = 10;
  EXPECT_NEAR(optim::LrSchedule(step).lr_at(9.99), 0.1, 1e-12);
  EXPECT_NEAR(optim::LrSchedule(step).lr_at(10), 0.01, 1e-12);
  optim::ScheduleOptions multi = step;
  multi.type = "multistep";
  multi.milestones = {3, 7};
  EXPECT_NEAR(optim::LrSchedule(multi).lr_at(5), 0.01, 1e-12);
  EXPECT_NEAR(optim::LrSchedule(multi).lr_at(7), 0.001, 1e-12);
  optim::ScheduleOptions cosine;
  cosine.type = "cosine";
  cosine.base_lr = 0.2;
  cosine.total_epochs = 10;
  cosine.warmup_epochs = 2;
  cosine.warmup_start = 0.0;
  optim::LrSchedule schedule(cosine);
  EXPECT_NEAR(schedule.lr_at(0), 0.0, 1e-12);
  EXPECT_NEAR(schedule.lr_at(1), 0.5 * 0.2 * 0.5 * (1 + std::cos(M_PI * 0.1)), 1e-12);
  EXPECT_NEAR(schedule.lr_at(5), 0.1, 1e-12);
  EXPECT_NEAR(schedule.lr_at(10), 0.0, 1e-12);
}

TEST(Schedule, PlateauDropsWhenAccuracyStopsImproving) {
  optim::ScheduleOptions options;
  options.type = "plateau";
  options.base_lr = 0.1;
  options.patience = 1;
  optim::LrSchedule schedule(options);
  EXPECT_FALSE(schedule.observe(0.5));
  EXPECT_FALSE(schedule.observe(0.6));
  EXPECT_FALSE(schedule.observe(0.6));  // first bad evaluation
  EXPECT_TRUE(schedule.observe(0.59));  // second: drop
  EXPECT_NEAR(schedule.lr_at(3), 0.01, 1e-12);
  optim::LrSchedule restored(options);
  restored.set_state(schedule.state());
  EXPECT_NEAR(restored.lr_at(3), 0.01, 1e-12);
  EXPECT_THROW(optim::LrSchedule(optim::ScheduleOptions{"exponential"}), ValueError);
}

}  // namespace
}  // namespace crunet
