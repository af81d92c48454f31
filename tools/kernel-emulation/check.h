// Helpers the newer drivers share: random inputs, bfloat16 rounding, and a worst-error comparison
// against a double-precision reference that counts failures.
#pragma once
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "crunet/core/half.h"

inline std::vector<float> rnd(size_t n, unsigned seed, float mean = 0, float sd = 1) {
  std::mt19937 gen(seed); std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(n); for (auto& e : v) e = d(gen); return v;
}
inline std::vector<std::uint16_t> to_bf(const std::vector<float>& v) {
  std::vector<std::uint16_t> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = crunet::float_to_bfloat16_bits(v[i]);
  return o;
}
inline std::vector<float> from_bf(const std::vector<std::uint16_t>& v) {
  std::vector<float> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = crunet::bfloat16_bits_to_float(v[i]);
  return o;
}
inline std::vector<float> as_float(const std::vector<float>& v) { return v; }
inline std::vector<float> as_float(const std::vector<std::uint16_t>& v) { return from_bf(v); }

inline int failures = 0;
inline int checks = 0;
// |got - want| <= atol + rtol * |want| everywhere (NaN in got fails unless want is NaN too).
template <typename A>
void compare(const char* what, const A& got, const std::vector<double>& want, double rtol, double atol) {
  ++checks;
  double worst = 0; size_t at = 0; bool bad = got.size() != want.size();
  for (size_t i = 0; i < want.size() && !bad; ++i) {
    const double g = double(got[i]);
    if (std::isnan(want[i]) != std::isnan(g)) { worst = INFINITY; at = i; break; }
    if (std::isnan(g)) continue;
    const double err = g == want[i] ? 0 : std::fabs(g - want[i]) / (atol + rtol * std::fabs(want[i]));
    if (!(err <= worst)) { worst = err; at = i; }
  }
  if (bad || worst > 1) {
    ++failures;
    std::printf("  FAIL %s: worst %.3g at %zu got %g want %g\n", what, worst, at,
                at < got.size() ? double(got[at]) : NAN, at < want.size() ? want[at] : NAN);
  }
}
