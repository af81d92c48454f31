#pragma once
// Bit-exact conversions between float32 and the two 16-bit float formats, round to nearest even.
#include <cstdint>
#include <cstring>

namespace crunet {

inline std::uint16_t float_to_bfloat16_bits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // keep NaN a (quiet) NaN
  }
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

inline float bfloat16_bits_to_float(std::uint16_t value) {
  const std::uint32_t bits = static_cast<std::uint32_t>(value) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

std::uint16_t float_to_half_bits(float value);
float half_bits_to_float(std::uint16_t value);

}  // namespace crunet
