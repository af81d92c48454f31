#pragma once
#include "crunet/core/tensor.h"

namespace crunet::ops {

struct CrossEntropyParams {
  // Mixes the one-hot target with the uniform distribution: (1 - s) * onehot + s / classes.
  float label_smoothing = 0.0f;
};

// Softmax cross-entropy averaged over the batch: logits [N, classes] (float), targets [N] (int64).
// Returns a scalar tensor (shape []).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const CrossEntropyParams& params = {});

}  // namespace crunet::ops
