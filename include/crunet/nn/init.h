#pragma once
// Weight initialisers; they draw from the default generator (crunet::manual_seed).
#include "crunet/core/tensor.h"

namespace crunet::nn::init {

// N(0, 2 / fan_in), fan_in = size(1) * kernel area: MSRA / He initialisation.
Tensor kaiming_normal(const Shape& shape);
// Uniform in [-bound, bound).
Tensor uniform(const Shape& shape, double bound);

}  // namespace crunet::nn::init
