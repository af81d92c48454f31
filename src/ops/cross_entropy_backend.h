#pragma once
// cross_entropy's backend entries. With q = (1 - s) onehot(t) + s / C and p = softmax(logits):
// loss = mean_n( -sum_c q[n, c] log p[n, c] ); grad_logits = (p - q) * grad_loss / N.
// The forward returns the loss and keeps p for the backward.
#include <utility>

#include "crunet/core/tensor.h"

namespace crunet::ops::cpu {
// Returns {loss (shape []), probabilities [N, C]}.
std::pair<Tensor, Tensor> cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                                float label_smoothing);
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& probabilities,
                              const Tensor& targets, float label_smoothing);
}  // namespace crunet::ops::cpu

namespace crunet::ops::cuda {
std::pair<Tensor, Tensor> cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                                float label_smoothing);
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& probabilities,
                              const Tensor& targets, float label_smoothing);
}  // namespace crunet::ops::cuda
