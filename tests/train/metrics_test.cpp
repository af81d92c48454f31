// count_top_k: the validation accuracy, the best checkpoint and the plateau schedule all read it.
#include "crunet/train/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "crunet/core/error.h"

namespace crunet::train {
namespace {

Tensor logits_of(std::int64_t rows, std::int64_t classes, const std::vector<float>& values) {
  return from_vector(values, {rows, classes});
}

Tensor labels_of(const std::vector<std::int64_t>& labels) {
  return from_int64_vector(labels, {static_cast<std::int64_t>(labels.size())});
}

TEST(CountTopK, CountsTheRowsWhoseLabelIsAmongTheKHighest) {
  const Tensor logits = logits_of(3, 4, {0.1f, 0.9f, 0.3f, 0.2f,    // label 1 first
                                         0.5f, 0.1f, 0.4f, 0.7f,    // label 2 third
                                         0.2f, 0.3f, 0.25f, 0.1f});  // label 0 third
  const Tensor labels = labels_of({1, 2, 0});
  EXPECT_EQ(count_top_k(logits, labels, 1), 1);
  EXPECT_EQ(count_top_k(logits, labels, 2), 1);
  EXPECT_EQ(count_top_k(logits, labels, 3), 3);
}

TEST(CountTopK, NaNScoresAreNeverRight) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor all_nan = logits_of(2, 10, std::vector<float>(20, nan));
  EXPECT_EQ(count_top_k(all_nan, labels_of({3, 7}), 1), 0);
  EXPECT_EQ(count_top_k(all_nan, labels_of({3, 7}), 5), 0);
  // A NaN elsewhere in the row ranks above the label's finite score.
  const Tensor one_nan = logits_of(1, 3, {0.0f, 1.0f, nan});
  EXPECT_EQ(count_top_k(one_nan, labels_of({1}), 1), 0);
  EXPECT_EQ(count_top_k(one_nan, labels_of({1}), 2), 1);
}

TEST(CountTopK, EqualScoresAreRightForOneClassOnly) {
  const Tensor zeros = logits_of(2, 10, std::vector<float>(20, 0.0f));
  // As argmax: the first class of the tie is the prediction.
  EXPECT_EQ(count_top_k(zeros, labels_of({0, 7}), 1), 1);
  EXPECT_EQ(count_top_k(zeros, labels_of({3, 7}), 5), 1);  // 3 is among the first five, 7 not
}

TEST(CountTopK, ALabelOutsideTheClassesIsAnError) {
  const Tensor logits = logits_of(1, 3, {0.0f, 1.0f, 2.0f});
  EXPECT_THROW(count_top_k(logits, labels_of({3}), 1), ValueError);
  EXPECT_THROW(count_top_k(logits, labels_of({-1}), 1), ValueError);
}

}  // namespace
}  // namespace crunet::train
