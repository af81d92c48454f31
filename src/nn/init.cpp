#include "crunet/nn/init.h"

#include <cmath>

#include "crunet/core/elementwise.h"
#include "crunet/core/rng.h"

namespace crunet::nn::init {

Tensor kaiming_normal(const Shape& shape) {
  std::int64_t fan_in = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
  Tensor t = randn(shape);
  scale_inplace(t, static_cast<float>(std::sqrt(2.0 / static_cast<double>(fan_in))));
  return t;
}

Tensor uniform(const Shape& shape, double bound) {
  Tensor t = empty(shape);
  float* values = t.data<float>();
  Generator& generator = default_generator();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    values[i] = static_cast<float>((2.0 * generator.uniform() - 1.0) * bound);
  }
  return t;
}

}  // namespace crunet::nn::init
