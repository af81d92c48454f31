#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

TEST(Add, ForwardIsElementwiseSum) {
  Tensor a = randn({2, 3, 4}, 1), b = randn({2, 3, 4}, 2);
  const std::vector<float> av = a.to_vector(), bv = b.to_vector();
  const std::vector<float> sum = ops::add(a, b).to_vector();
  for (std::size_t i = 0; i < av.size(); ++i) EXPECT_EQ(sum[i], av[i] + bv[i]);
}

TEST(Add, GradientMatchesFiniteDifferences) {
  EXPECT_TRUE(testing::gradcheck([](const std::vector<Tensor>& t) { return ops::add(t[0], t[1]); },
                                 {randn({2, 3, 4}, 1).requires_grad(true),
                                  randn({2, 3, 4}, 2).requires_grad(true)}));
}

TEST(Add, ShapeMismatchNamesOpAndBothShapes) {
  try {
    ops::add(randn({2, 3}, 1), randn({3}, 1));
    FAIL() << "expected an error";
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("add"), std::string::npos) << message;
    EXPECT_NE(message.find("[2, 3]"), std::string::npos) << message;
    EXPECT_NE(message.find("[3]"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace crunet
