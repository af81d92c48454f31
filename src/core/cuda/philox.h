#pragma once
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC11;
// the Random123 library's definition), and the mapping from a fill's element index to its value,
// shared by the CUDA fill kernel (kernels/random.cu) and plain C++: tests/core/philox_test.cpp
// checks the known-answer vectors of Random123 and the GPU test compares the device's values with
// these functions run on the host.
//
// A fill of `count` elements with (seed, fill number) takes one Philox block per group of four
// consecutive elements: key = the seed's two halves, counter = (group index low, high, fill
// number low, high). Different fills use disjoint counters, so no two fills of a seed overlap.
#include <cmath>
#include <cstdint>

#include "core/cuda/host_device.h"

namespace crunet::philox {

struct Block {
  std::uint32_t x, y, z, w;
};

constexpr std::uint32_t kMultiplier0 = 0xD2511F53u;
constexpr std::uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // the golden ratio
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

// Ten rounds of Philox4x32 on `counter` with the key (key0, key1).
CRUNET_HOST_DEVICE inline Block philox4x32_10(Block counter, std::uint32_t key0,
                                              std::uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key schedule: a Weyl sequence between rounds
      key0 += kWeyl0;
      key1 += kWeyl1;
    }
    const std::uint64_t product0 = static_cast<std::uint64_t>(kMultiplier0) * counter.x;
    const std::uint64_t product1 = static_cast<std::uint64_t>(kMultiplier1) * counter.z;
    const auto hi0 = static_cast<std::uint32_t>(product0 >> 32);
    const auto lo0 = static_cast<std::uint32_t>(product0);
    const auto hi1 = static_cast<std::uint32_t>(product1 >> 32);
    const auto lo1 = static_cast<std::uint32_t>(product1);
    counter = Block{hi1 ^ counter.y ^ key0, lo1, hi0 ^ counter.w ^ key1, lo0};
  }
  return counter;
}

// The random bits of group `group` (elements 4 * group .. 4 * group + 3) of a fill.
CRUNET_HOST_DEVICE inline Block fill_block(std::uint64_t seed, std::uint64_t fill,
                                           std::uint64_t group) {
  const Block counter{static_cast<std::uint32_t>(group), static_cast<std::uint32_t>(group >> 32),
                      static_cast<std::uint32_t>(fill), static_cast<std::uint32_t>(fill >> 32)};
  return philox4x32_10(counter, static_cast<std::uint32_t>(seed),
                       static_cast<std::uint32_t>(seed >> 32));
}

// The top 24 bits as a float in [0, 1): exact, every value a multiple of 2^-24.
CRUNET_HOST_DEVICE inline float unit_uniform(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// The four uniforms in [0, 1) of a group.
CRUNET_HOST_DEVICE inline void uniform4(std::uint64_t seed, std::uint64_t fill,
                                        std::uint64_t group, float out[4]) {
  const Block bits = fill_block(seed, fill, group);
  out[0] = unit_uniform(bits.x);
  out[1] = unit_uniform(bits.y);
  out[2] = unit_uniform(bits.z);
  out[3] = unit_uniform(bits.w);
}

// The four standard normals of a group: Box-Muller on the pairs (x, y) and (z, w), with the
// first of each pair in (0, 1] so that its logarithm is finite.
CRUNET_HOST_DEVICE inline void normal4(std::uint64_t seed, std::uint64_t fill, std::uint64_t group,
                                       float out[4]) {
  const Block bits = fill_block(seed, fill, group);
  const std::uint32_t words[4] = {bits.x, bits.y, bits.z, bits.w};
  for (int pair = 0; pair < 2; ++pair) {
    const float u1 = static_cast<float>((words[2 * pair] >> 8) + 1u) * (1.0f / 16777216.0f);
    const float u2 = unit_uniform(words[2 * pair + 1]);
    const float radius = sqrtf(-2.0f * logf(u1));
    const float angle = 6.2831853071795865f * u2;
    out[2 * pair] = radius * cosf(angle);
    out[2 * pair + 1] = radius * sinf(angle);
  }
}

}  // namespace crunet::philox
