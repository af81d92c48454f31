#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "ops/cpu/gemm.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

TEST(Linear, ForwardMatchesPlainLoops) {
  const std::int64_t n = 5, in = 7, out = 3;
  Tensor x = randn({n, in}, 1), w = randn({out, in}, 2), b = randn({out}, 3);
  const std::vector<float> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  std::vector<float> expected(n * out);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < out; ++j) {
      double sum = bv[j];
      for (std::int64_t k = 0; k < in; ++k) sum += static_cast<double>(xv[i * in + k]) * wv[j * in + k];
      expected[i * out + j] = static_cast<float>(sum);
    }
  }
  EXPECT_TRUE(testing::all_close(ops::linear(x, w, b), from_vector(expected, {n, out})));
  EXPECT_EQ(ops::linear(x, w).shape(), (Shape{n, out}));
}

TEST(Linear, GradientMatchesFiniteDifferences) {
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& t) { return ops::linear(t[0], t[1], t[2]); },
      {randn({4, 9}, 1).requires_grad(true), randn({6, 9}, 2).requires_grad(true),
       randn({6}, 3).requires_grad(true)}));
}

TEST(Linear, GemmMatchesReferenceForAllTransposes) {
  const std::int64_t m = 13, n = 11, k = 17;
  const std::vector<float> a = randn({m * k}, 1).to_vector(), b = randn({k * n}, 2).to_vector();
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      std::vector<float> fast(m * n, 1.0f), reference(m * n, 1.0f);
      const std::int64_t lda = ta ? m : k, ldb = tb ? k : n;
      ops::cpu::gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f, fast.data(), n);
      ops::cpu::gemm_reference(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f,
                               reference.data(), n);
      EXPECT_LE(testing::closeness(fast, reference, 1e-5, 1e-5), 1.0) << ta << tb;
    }
  }
}

TEST(Linear, MismatchedFeaturesNameBothShapes) {
  try {
    ops::linear(randn({2, 4}, 1), randn({3, 5}, 2));
    FAIL();
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("linear"), std::string::npos);
    EXPECT_NE(m.find("[2, 4]"), std::string::npos);
    EXPECT_NE(m.find("[3, 5]"), std::string::npos);
  }
  EXPECT_THROW(ops::linear(randn({2, 4}, 1), randn({3, 4}, 2), randn({4}, 3)), ValueError);
}

}  // namespace
}  // namespace crunet
