#include "inputs.h"

#include <numeric>

#include "crunet/core/rng.h"

namespace crunet::testing {

Tensor away_from_zero(const Shape& shape, std::uint64_t seed, float gap) {
  std::vector<float> values = randn(shape, seed).to_vector();
  for (float& x : values) x = x >= 0 ? x + gap : x - gap;
  return from_vector(values, shape);
}

Tensor distinct_values(const Shape& shape, std::uint64_t seed, float spacing) {
  const std::int64_t count = shape_numel(shape);
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  Generator generator(seed);
  for (std::int64_t i = count - 1; i > 0; --i) {
    std::swap(order[static_cast<std::size_t>(i)],
              order[generator.below(static_cast<std::uint64_t>(i + 1))]);
  }
  std::vector<float> values(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    values[i] = (static_cast<float>(order[i]) - static_cast<float>(count) / 2) * spacing;
  }
  return from_vector(values, shape);
}

}  // namespace crunet::testing
