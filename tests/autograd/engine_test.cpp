#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

using testing::all_close;

TEST(Autograd, GradientOfATensorUsedTwiceIsTheSum) {
  // y = relu(x) + x: dy/dx = 1[x > 0] + 1.
  Tensor x = from_vector({-1.0f, 2.0f, -3.0f, 4.0f}, {4}).requires_grad(true);
  Tensor y = ops::add(ops::relu(x), x);
  y.backward(ones({4}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{1, 2, 1, 2}));
}

TEST(Autograd, LeafGradientsAccumulateAcrossBackwardCalls) {
  Tensor x = from_vector({1.0f, -1.0f}, {2}).requires_grad(true);
  ops::relu(x).backward(ones({2}));
  ops::relu(x).backward(ones({2}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 0}));
}

TEST(Autograd, AddGivesBothLeavesTheirOwnGradient) {
  // add's backward hands the same tensor to both inputs; accumulating into one must not touch
  // the other.
  Tensor a = zeros({3}).requires_grad(true);
  Tensor b = zeros({3}).requires_grad(true);
  ops::add(a, b).backward(ones({3}));
  ops::relu(ops::add(b, ones({3}))).backward(full({3}, 2.0));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{3, 3, 3}));
}

TEST(Autograd, DiamondGraphRunsEachNodeOnce) {
  // h = relu(x); y = h + h  ->  dy/dx = 2 * 1[x > 0]; relu's node must run once with the sum.
  Tensor x = from_vector({1.0f, -1.0f, 3.0f}, {3}).requires_grad(true);
  Tensor h = ops::relu(x);
  Tensor y = ops::add(h, h);
  y.backward(ones({3}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 0, 2}));
  EXPECT_TRUE(h.grad_fn()->released());
}

TEST(Autograd, SavedTensorsAreFreedAfterTheNodeRuns) {
  Tensor x = randn({256, 256}, 1).requires_grad(true);
  Tensor h = ops::relu(x);      // saves its output (shares h's storage)
  Tensor y = ops::relu(ops::add(h, x));
  const std::int64_t before = cpu_allocator().stats().current_bytes;
  y.backward(ones({256, 256}));
  EXPECT_TRUE(y.grad_fn()->released());
  EXPECT_TRUE(h.grad_fn()->released());
  // The second relu's saved output was only held by its node: after backward, only the user's
  // handles and x.grad remain. Holding the gradient costs one buffer; anything saved is gone.
  y = Tensor();
  const std::int64_t after = cpu_allocator().stats().current_bytes;
  EXPECT_LE(after, before);
}

TEST(Autograd, SecondBackwardThroughAFreedGraphIsAnError) {
  Tensor x = from_vector({1.0f}, {1}).requires_grad(true);
  Tensor y = ops::relu(x);
  y.backward(ones({1}));
  EXPECT_THROW(y.backward(ones({1})), ValueError);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = ones({2}).requires_grad(true);
  {
    NoGradGuard guard;
    Tensor y = ops::relu(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(ops::relu(x).requires_grad());
}

TEST(Autograd, BackwardNeedsScalarOrGradient) {
  Tensor x = ones({2}).requires_grad(true);
  Tensor y = ops::relu(x);
  EXPECT_THROW(y.backward(), ValueError);
  EXPECT_THROW(y.backward(ones({3})), ValueError);
  EXPECT_THROW(ones({1}).backward(), ValueError);  // nothing requires grad
}

TEST(Autograd, RequiresGradOnlyOnFloatLeaves) {
  EXPECT_THROW(from_int64_vector({1}, {1}).requires_grad(true), ValueError);
  Tensor x = ones({1}).requires_grad(true);
  Tensor y = ops::relu(x);
  EXPECT_FALSE(y.is_leaf());
  EXPECT_THROW(y.requires_grad(false), ValueError);
}

TEST(Autograd, InputsThatDoNotRequireGradGetNone) {
  Tensor w = randn({3, 4}, 2).requires_grad(true);
  Tensor x = randn({5, 4}, 3);
  ops::linear(x, w).backward(ones({5, 3}));
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, BranchWithoutGradientStillReleasesDependents) {
  // y = a + relu(b) where only a's branch carries a gradient into `shared`; the node feeding
  // both branches must still run once both are done.
  Tensor x = from_vector({1.0f, 2.0f}, {2}).requires_grad(true);
  Tensor shared = ops::relu(x);
  Tensor y = ops::add(ops::relu(shared), shared);
  y.backward(from_vector({1.0f, 0.0f}, {2}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 0}));
}

}  // namespace
}  // namespace crunet
