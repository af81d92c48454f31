#include <cmath>

#include "../cross_entropy_backend.h"
#include "../op_checks.h"

namespace crunet::ops::cpu {
namespace {

void check_targets(const Tensor& targets, std::int64_t classes) {
  const std::int64_t* t = targets.data<std::int64_t>();
  for (std::int64_t i = 0; i < targets.numel(); ++i) {
    if (t[i] < 0 || t[i] >= classes) {
      fail("cross_entropy", "target " + std::to_string(t[i]) + " at index " + std::to_string(i) +
                                " is outside [0, " + std::to_string(classes) + ")");
    }
  }
}

}  // namespace

std::pair<Tensor, Tensor> cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                                float label_smoothing) {
  check_dtype("cross_entropy", logits, "logits", DType::Float32);
  const std::int64_t n = logits.size(0), classes = logits.size(1);
  check_targets(targets, classes);
  Tensor probabilities = empty({n, classes});
  const float* z = logits.data<float>();
  const std::int64_t* t = targets.data<std::int64_t>();
  float* p = probabilities.data<float>();
  const double off_target = label_smoothing / static_cast<double>(classes);
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (n * classes > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = z + i * classes;
    float* prow = p + i * classes;
    float max_value = row[0];
    for (std::int64_t c = 1; c < classes; ++c) max_value = std::max(max_value, row[c]);
    double sum = 0.0;
    for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c] - max_value));
    const double log_sum = std::log(sum);
    double row_loss = 0.0;
    for (std::int64_t c = 0; c < classes; ++c) {
      const double log_p = static_cast<double>(row[c] - max_value) - log_sum;
      prow[c] = static_cast<float>(std::exp(log_p));
      const double q = off_target + (c == t[i] ? 1.0 - label_smoothing : 0.0);
      row_loss -= q * log_p;
    }
    total += row_loss;
  }
  Tensor loss = empty({});
  loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(n));
  return {loss, probabilities};
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& probabilities,
                              const Tensor& targets, float label_smoothing) {
  const std::int64_t n = probabilities.size(0), classes = probabilities.size(1);
  const float scale = grad_loss.item() / static_cast<float>(n);
  const float off_target = label_smoothing / static_cast<float>(classes);
  Tensor grad = empty({n, classes});
  const float* p = probabilities.data<float>();
  const std::int64_t* t = targets.data<std::int64_t>();
  float* g = grad.data<float>();
#pragma omp parallel for if (n * classes > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t c = 0; c < classes; ++c) {
      const float q = off_target + (c == t[i] ? 1.0f - label_smoothing : 0.0f);
      g[i * classes + c] = (p[i * classes + c] - q) * scale;
    }
  }
  return grad;
}

}  // namespace crunet::ops::cpu
