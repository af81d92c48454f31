#pragma once
#include <cstdint>

#include "crunet/core/tensor.h"

namespace crunet::train {

// How many rows of logits [N, classes] have their label among the k highest scores.
std::int64_t count_top_k(const Tensor& logits, const Tensor& labels, std::int64_t k);

}  // namespace crunet::train
