#include "crunet/core/rng.h"

#include <cmath>
#include <sstream>

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

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().seed_with(seed); }

}  // namespace crunet
