#include "crunet/train/metrics.h"

#include "crunet/core/error.h"

namespace crunet::train {

std::int64_t count_top_k(const Tensor& logits, const Tensor& labels, std::int64_t k) {
  if (logits.dim() != 2 || labels.dim() != 1 || labels.size(0) != logits.size(0)) {
    throw ValueError("count_top_k: logits " + shape_str(logits.shape()) + " and labels " +
                     shape_str(labels.shape()) + " do not fit");
  }
  const std::vector<float> scores = logits.to_vector();
  const std::vector<std::int64_t> truth = labels.to_int64_vector();
  const std::int64_t n = logits.size(0), classes = logits.size(1);
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = scores.data() + i * classes;
    const float target = row[truth[static_cast<std::size_t>(i)]];
    // Rank of the target: classes scoring strictly higher (ties count in the target's favour).
    std::int64_t higher = 0;
    for (std::int64_t c = 0; c < classes; ++c) higher += row[c] > target;
    correct += higher < k;
  }
  return correct;
}

}  // namespace crunet::train
