// Random tensor factories. Values are drawn on the CPU in element order and then moved, so that a
// seed gives the same tensor on every device.
#include "crunet/core/rng.h"
#include "crunet/core/tensor.h"

namespace crunet {
namespace {

Tensor fill_with(const Shape& shape, const TensorOptions& options, Generator& generator,
                 bool normal, double low, double high) {
  Tensor host = empty(shape, TensorOptions(DType::Float32, Device::cpu()));
  float* values = host.data<float>();
  const std::int64_t count = host.numel();
  for (std::int64_t i = 0; i < count; ++i) {
    values[i] = normal ? static_cast<float>(generator.normal())
                       : static_cast<float>(low + (high - low) * generator.uniform());
  }
  return host.to(options.dtype).to(options.device);
}

}  // namespace

Tensor randn(const Shape& shape, const TensorOptions& options) {
  return fill_with(shape, options, default_generator(), true, 0.0, 0.0);
}

Tensor randn(const Shape& shape, std::uint64_t seed, const TensorOptions& options) {
  Generator generator(seed);
  return fill_with(shape, options, generator, true, 0.0, 0.0);
}

Tensor rand_uniform(const Shape& shape, double low, double high, std::uint64_t seed,
                    const TensorOptions& options) {
  Generator generator(seed);
  return fill_with(shape, options, generator, false, low, high);
}

}  // namespace crunet
