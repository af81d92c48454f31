#pragma once
// What every kernel file shares: launch sizes for grid-stride loops and the bfloat16 loads and
// stores (bit manipulation, so that no kernel needs the large cuda_bf16.h header).
#include <cstdint>

#include <cuda_runtime_api.h>

namespace crunet::kernels {

constexpr int kThreads = 256;

// Enough blocks to cover `count` elements with kThreads each, capped: grid-stride loops do the
// rest, and a bounded grid keeps the launch cheap for huge tensors.
inline unsigned blocks_for(std::int64_t count, int threads = kThreads) {
  const std::int64_t blocks = (count + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

// bfloat16 is the upper half of a float32; stores round to nearest even (NaN stays NaN).
__device__ __forceinline__ float load_value(const float* p, std::int64_t i) { return p[i]; }
__device__ __forceinline__ float load_value(const std::uint16_t* p, std::int64_t i) {
  return __uint_as_float(static_cast<std::uint32_t>(p[i]) << 16);
}
__device__ __forceinline__ void store_value(float* p, std::int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store_value(std::uint16_t* p, std::int64_t i, float v) {
  const std::uint32_t bits = __float_as_uint(v);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    p[i] = static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  } else {
    p[i] = static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}

}  // namespace crunet::kernels
