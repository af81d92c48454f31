// sync_batch_norm in a group of one (the sum is the identity) is batch_norm: forward, running
// statistics and every gradient. The cross-process case runs under MPI in tests/dist.
#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

using testing::all_close;

TEST(SyncBatchNorm, InOneProcessItIsBatchNorm) {
  for (const Shape& shape : {Shape{4, 3, 5, 5}, Shape{2, 8, 3, 7}, Shape{7, 2, 1, 1}}) {
    const std::int64_t c = shape[1];
    const Tensor x0 = ops::add(randn(shape, 5), full(shape, 3.0));  // a mean far from zero
    const Tensor w0 = randn({c}, 6), b0 = randn({c}, 7), dy = randn(shape, 8);
    Tensor rm_a = randn({c}, 9), rv_a = ones({c});
    Tensor rm_b = rm_a.clone(), rv_b = rv_a.clone();
    Tensor xa = x0.clone().requires_grad(true), wa = w0.clone().requires_grad(true),
           ba = b0.clone().requires_grad(true);
    Tensor xb = x0.clone().requires_grad(true), wb = w0.clone().requires_grad(true),
           bb = b0.clone().requires_grad(true);
    int sums = 0;
    const ops::CrossProcessSum identity = [&](std::vector<double>&) { ++sums; };
    const Tensor ya = ops::batch_norm(xa, wa, ba, rm_a, rv_a, {true, 0.1f, 1e-5f});
    const Tensor yb = ops::sync_batch_norm(xb, wb, bb, rm_b, rv_b, {true, 0.1f, 1e-5f}, identity);
    EXPECT_TRUE(all_close(yb, ya, 1e-4, 1e-5)) << shape_str(shape);
    EXPECT_TRUE(all_close(rm_b, rm_a, 1e-5, 1e-6));
    EXPECT_TRUE(all_close(rv_b, rv_a, 1e-5, 1e-6));
    ya.backward(dy);
    yb.backward(dy);
    EXPECT_EQ(sums, 2);  // one in forward, one in backward
    EXPECT_TRUE(all_close(xb.grad(), xa.grad(), 1e-3, 1e-5)) << shape_str(shape);
    EXPECT_TRUE(all_close(wb.grad(), wa.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(all_close(bb.grad(), ba.grad(), 1e-4, 1e-5));
  }
}

TEST(SyncBatchNorm, EvaluationDoesNotCommunicate) {
  const Tensor x = randn({2, 3, 4, 4}, 1);
  Tensor rm = zeros({3}), rv = ones({3});
  int sums = 0;
  const Tensor y = ops::sync_batch_norm(x, Tensor(), Tensor(), rm, rv, {false, 0.1f, 1e-5f},
                                        [&](std::vector<double>&) { ++sums; });
  EXPECT_EQ(sums, 0);
  EXPECT_TRUE(all_close(y, ops::batch_norm(x, Tensor(), Tensor(), rm, rv, {false, 0.1f, 1e-5f})));
}

TEST(SyncBatchNorm, BatchNorm2dUsesTheSumWhenTraining) {
  nn::BatchNorm2d bn(3);
  int sums = 0;
  bn.set_cross_process_sum([&](std::vector<double>&) { ++sums; });
  EXPECT_TRUE(bn.is_synchronized());
  (void)bn.forward(randn({2, 3, 4, 4}, 2));
  EXPECT_EQ(sums, 1);
  bn.eval();
  (void)bn.forward(randn({2, 3, 4, 4}, 2));
  EXPECT_EQ(sums, 1);
  bn.set_cross_process_sum(nullptr);
  EXPECT_FALSE(bn.is_synchronized());
}

}  // namespace
}  // namespace crunet
