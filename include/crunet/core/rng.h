#pragma once
#include <cstdint>
#include <random>
#include <string>

namespace crunet {

// A seeded, reproducible random stream. Its whole state can be saved to a string and restored,
// so that a resumed training run draws the same numbers as an uninterrupted one.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) { seed_with(seed); }

  void seed_with(std::uint64_t seed);
  std::uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1).
  double uniform();
  float uniform(float low, float high) { return low + static_cast<float>(uniform()) * (high - low); }
  // Uniform integer in [0, bound).
  std::uint64_t below(std::uint64_t bound);
  // Standard normal (Box-Muller), identical on every platform.
  double normal();

  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

// The default generator (one per process for the CPU; CUDA generators derive their seeds from it).
Generator& default_generator();
// Seeds the default generator; everything random that is not given a seed draws from it.
void manual_seed(std::uint64_t seed);

}  // namespace crunet
