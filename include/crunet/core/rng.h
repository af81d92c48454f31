#pragma once
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <utility>

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

// The random state of one CUDA device, for the fills made on the device (crunet/core/random.h):
// a seed and the number of fills drawn so far. The fills use Philox4x32-10, which is counter
// based: value i of fill k depends only on (seed, k, i), never on the launch configuration or
// the GPU, so a seeded run is reproducible. Thread-safe.
class CudaGenerator {
 public:
  explicit CudaGenerator(std::uint64_t seed = 0) : seed_(seed) {}
  CudaGenerator(const CudaGenerator&) = delete;
  CudaGenerator& operator=(const CudaGenerator&) = delete;

  void seed_with(std::uint64_t seed);
  std::uint64_t seed() const;
  // The (seed, fill number) of the next fill; advances the state by one fill.
  std::pair<std::uint64_t, std::uint64_t> next_fill();

  std::string state() const;
  void set_state(const std::string& state);

 private:
  mutable std::mutex mutex_;
  std::uint64_t seed_ = 0;
  std::uint64_t fills_ = 0;
};

// The default generator (one per process for the CPU; CUDA generators derive their seeds from it).
Generator& default_generator();
// Device `device_index`'s generator. Like PyTorch's, every device's starts from the seed of the
// last manual_seed (0 before any). Pure state: it needs no GPU.
CudaGenerator& cuda_generator(int device_index);
// Seeds the default generator and every CUDA device's; everything random that is not given a seed
// draws from them.
void manual_seed(std::uint64_t seed);

}  // namespace crunet
