// Grad-ready hooks (crunet/autograd/hooks.h): what data-parallel training hangs its gradient
// all-reduce on. A hook must fire once per backward, only after every use of its leaf has
// delivered - a shared weight included - and while the rest of the graph may still run.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crunet/crunet.h"

namespace crunet {
namespace {

TEST(GradReadyHooks, ASharedLeafFiresOnceAfterItsLastUse) {
  // w is used by three ops (as a CRU share group's W1 by its units); the hook must see the sum.
  Tensor w = from_vector({0.5f, -1.0f, 2.0f}, {3}).requires_grad(true);
  Tensor x = from_vector({1.0f, 2.0f, 3.0f}, {3});
  int calls = 0;
  std::vector<float> seen;
  auto handle = autograd::register_grad_ready_hook(w, [&](const Tensor& leaf) {
    ++calls;
    seen = leaf.grad().to_vector();
  });
  // y = relu(w + x) + relu(w) + w
  Tensor y = ops::add(ops::add(ops::relu(ops::add(w, x)), ops::relu(w)), w);
  y.backward(ones({3}));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, w.grad().to_vector());
  EXPECT_EQ(seen, (std::vector<float>{3, 2, 3}));
}

TEST(GradReadyHooks, AnEarlyLeafIsReadyAfterALateOne) {
  // Backward finishes the last layer's weight first: the order the reducer's buckets assume.
  Tensor w1 = ones({4}).requires_grad(true);
  Tensor w2 = ones({4}).requires_grad(true);
  std::vector<std::string> order;
  auto h1 = autograd::register_grad_ready_hook(w1, [&](const Tensor&) { order.push_back("w1"); });
  auto h2 = autograd::register_grad_ready_hook(w2, [&](const Tensor&) { order.push_back("w2"); });
  Tensor h = ops::relu(ops::add(full({4}, 2.0), w1));
  Tensor y = ops::relu(ops::add(ops::relu(h), w2));
  y.backward(ones({4}));
  EXPECT_EQ(order, (std::vector<std::string>{"w2", "w1"}));
}

TEST(GradReadyHooks, UnreachedLeavesDoNotFireAndRemovedHooksAreGone) {
  Tensor used = ones({2}).requires_grad(true);
  Tensor unused = ones({2}).requires_grad(true);
  int used_calls = 0, unused_calls = 0;
  auto handle = autograd::register_grad_ready_hook(used, [&](const Tensor&) { ++used_calls; });
  auto other = autograd::register_grad_ready_hook(unused, [&](const Tensor&) { ++unused_calls; });
  ops::relu(used).backward(ones({2}));
  EXPECT_EQ(used_calls, 1);
  EXPECT_EQ(unused_calls, 0);
  handle.remove();
  ops::relu(used).backward(ones({2}));
  EXPECT_EQ(used_calls, 1);
  {
    auto scoped = autograd::register_grad_ready_hook(used, [&](const Tensor&) { ++used_calls; });
    ops::relu(used).backward(ones({2}));
  }
  ops::relu(used).backward(ones({2}));
  EXPECT_EQ(used_calls, 2);  // once while the scoped handle lived
}

TEST(GradReadyHooks, ARootLeafFiresAndHooksNeedALeaf) {
  Tensor x = ones({}).requires_grad(true);
  int calls = 0;
  auto handle = autograd::register_grad_ready_hook(x, [&](const Tensor&) { ++calls; });
  x.backward();
  EXPECT_EQ(calls, 1);
  const Tensor not_leaf = ops::relu(ones({2}).requires_grad(true));
  EXPECT_THROW((void)autograd::register_grad_ready_hook(not_leaf, [](const Tensor&) {}), ValueError);
  EXPECT_THROW((void)autograd::register_grad_ready_hook(ones({2}), [](const Tensor&) {}), ValueError);
}

TEST(GradReadyHooks, ConvNetWeightsFireOncePerBackwardWithTheirFinalGradient) {
  // The same convolution applied twice, as shared CRU weights are.
  manual_seed(3);
  nn::Conv2d first(2, 4, 3, {1, 1}), shared(4, 4, 3, {1, 1});
  std::vector<int> calls(2, 0);
  std::vector<std::vector<float>> seen(2);
  auto h0 = autograd::register_grad_ready_hook(first.weight(), [&](const Tensor& w) {
    ++calls[0];
    seen[0] = w.grad().to_vector();
  });
  auto h1 = autograd::register_grad_ready_hook(shared.weight(), [&](const Tensor& w) {
    ++calls[1];
    seen[1] = w.grad().to_vector();
  });
  const Tensor x = randn({2, 2, 5, 5}, 11);
  Tensor h = ops::relu(first.forward(x));
  h = ops::add(ops::relu(shared.forward(h)), h);
  h = ops::relu(shared.forward(h));
  ops::global_avg_pool(h).backward(ones({2, 4}));
  EXPECT_EQ(calls, (std::vector<int>{1, 1}));
  EXPECT_EQ(seen[0], first.weight().grad().to_vector());
  EXPECT_EQ(seen[1], shared.weight().grad().to_vector());
}

}  // namespace
}  // namespace crunet
