#include "crunet/core/rng.h"

#include <cmath>
#include <memory>
#include <sstream>
#include <vector>

#include "crunet/core/error.h"

namespace crunet {

void Generator::seed_with(std::uint64_t seed) {
  engine_.seed(seed);
  has_spare_normal_ = false;
  spare_normal_ = 0.0;
}

double Generator::uniform() {
  // 53 random bits -> [0, 1) exactly representable, the same on every platform.
  return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
}

std::uint64_t Generator::below(std::uint64_t bound) {
  if (bound == 0) throw ValueError("Generator::below: bound must be positive");
  // Rejection sampling removes the modulo bias.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t value;
  do {
    value = engine_();
  } while (value >= limit);
  return value % bound;
}

double Generator::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  double u1;
  do {
    u1 = uniform();
  } while (u1 <= 0.0);
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586 * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

std::string Generator::state() const {
  std::ostringstream out;
  out << engine_ << ' ' << has_spare_normal_ << ' ';
  out.precision(17);
  out << spare_normal_;
  return out.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream in(state);
  in >> engine_ >> has_spare_normal_ >> spare_normal_;
  if (!in) throw ValueError("Generator::set_state: malformed generator state");
}

void CudaGenerator::seed_with(std::uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  fills_ = 0;
}

std::uint64_t CudaGenerator::seed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seed_;
}

std::pair<std::uint64_t, std::uint64_t> CudaGenerator::next_fill() {
  std::lock_guard<std::mutex> lock(mutex_);
  return {seed_, fills_++};
}

std::string CudaGenerator::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::to_string(seed_) + " " + std::to_string(fills_);
}

void CudaGenerator::set_state(const std::string& state) {
  std::istringstream in(state);
  std::uint64_t seed = 0, fills = 0;
  if (!(in >> seed >> fills)) throw ValueError("CudaGenerator::set_state: malformed state");
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  fills_ = fills;
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

namespace {

// The CUDA generators, made on first use and never destroyed, and the seed new ones start from.
struct CudaGenerators {
  std::mutex mutex;
  std::uint64_t seed = 0;
  std::vector<std::unique_ptr<CudaGenerator>> by_device;
};

CudaGenerators& cuda_generators() {
  static auto* generators = new CudaGenerators();
  return *generators;
}

}  // namespace

CudaGenerator& cuda_generator(int device_index) {
  if (device_index < 0) {
    throw ValueError("cuda_generator: device index " + std::to_string(device_index) +
                     " is negative");
  }
  CudaGenerators& all = cuda_generators();
  std::lock_guard<std::mutex> lock(all.mutex);
  const auto index = static_cast<std::size_t>(device_index);
  if (all.by_device.size() <= index) all.by_device.resize(index + 1);
  if (!all.by_device[index]) all.by_device[index] = std::make_unique<CudaGenerator>(all.seed);
  return *all.by_device[index];
}

void manual_seed(std::uint64_t seed) {
  default_generator().seed_with(seed);
  CudaGenerators& all = cuda_generators();
  std::lock_guard<std::mutex> lock(all.mutex);
  all.seed = seed;
  for (auto& generator : all.by_device) {
    if (generator) generator->seed_with(seed);
  }
}

}  // namespace crunet
