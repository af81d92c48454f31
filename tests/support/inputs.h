#pragma once
// Random test inputs with properties the gradient checks need.
#include "crunet/core/tensor.h"

namespace crunet::testing {

// Normal values pushed at least `gap` away from zero, so finite differences never cross ReLU's kink.
Tensor away_from_zero(const Shape& shape, std::uint64_t seed, float gap = 0.05f);

// A random permutation of distinct values spaced `spacing` apart and centred on zero, so that no two
// elements tie (max-pool) and a small perturbation never changes which one is largest.
Tensor distinct_values(const Shape& shape, std::uint64_t seed, float spacing = 0.05f);

}  // namespace crunet::testing
