#include "crunet/train/metrics.h"

#include <cmath>
#include <string>

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
    const std::int64_t label = truth[static_cast<std::size_t>(i)];
    if (label < 0 || label >= classes) {
      throw ValueError("count_top_k: label " + std::to_string(label) + " of row " +
                       std::to_string(i) + " is not a class of logits " +
                       shape_str(logits.shape()));
    }
    const float target = row[label];
    // A NaN score is never right: a diverged network must not read as 100% (NaN > x is false).
    if (std::isnan(target)) continue;
    // Rank of the target: classes scoring higher, NaNs, and equal scores of a lower class index
    // (argmax's order), so a row of equal scores is right for one class only, not for all.
    std::int64_t ahead = 0;
    for (std::int64_t c = 0; c < classes; ++c) {
      if (c == label) continue;
      ahead += std::isnan(row[c]) || row[c] > target || (row[c] == target && c < label);
    }
    correct += ahead < k;
  }
  return correct;
}

}  // namespace crunet::train
