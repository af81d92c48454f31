#include "harness.h"
#include <cstdio>
#include <random>
#include "linear.cuh"
#include "crunet/core/half.h"
using namespace crunet;
int main() {
  int fails = 0;
  for (auto [rows, cols] : {std::pair<long,long>{5, 7}, {33, 65}, {1, 1}, {64, 1000}}) {
    std::mt19937 gen(1); std::normal_distribution<float> d;
    std::vector<float> y(rows*cols), b(cols); for (auto& e : y) e = d(gen); for (auto& e : b) e = d(gen);
    std::vector<std::uint16_t> yb(y.size()), bb(b.size());
    for (size_t i = 0; i < y.size(); ++i) { yb[i] = float_to_bfloat16_bits(y[i]); y[i] = bfloat16_bits_to_float(yb[i]); }
    for (size_t i = 0; i < b.size(); ++i) { bb[i] = float_to_bfloat16_bits(b[i]); b[i] = bfloat16_bits_to_float(bb[i]); }
    std::vector<float> yf = y;
    kernels::add_row_bias(yf.data(), b.data(), rows, cols, nullptr);
    kernels::add_row_bias(yb.data(), bb.data(), rows, cols, nullptr);
    for (long i = 0; i < rows*cols; ++i) {
      const float want = y[i] + b[i % cols];
      if (std::fabs(yf[i] - want) > 1e-6f || std::fabs(bfloat16_bits_to_float(yb[i]) - want) > 1e-2f * (1 + std::fabs(want))) { ++fails; break; }
    }
    std::vector<float> sf(cols); std::vector<std::uint16_t> sb(cols);
    kernels::sum_columns(y.data(), sf.data(), rows, cols, nullptr);
    std::vector<std::uint16_t> ybin(y.size()); for (size_t i = 0; i < y.size(); ++i) ybin[i] = float_to_bfloat16_bits(y[i]);
    kernels::sum_columns(ybin.data(), sb.data(), rows, cols, nullptr);
    for (long c = 0; c < cols; ++c) {
      double want = 0; for (long r = 0; r < rows; ++r) want += y[r*cols+c];
      if (std::fabs(sf[c] - want) > 1e-4 * (1 + std::fabs(want)) || std::fabs(bfloat16_bits_to_float(sb[c]) - want) > 1e-2 * (1 + std::fabs(want))) { ++fails; std::printf("col %ld %g %g %g\n", c, sf[c], bfloat16_bits_to_float(sb[c]), want); break; }
    }
  }
  std::printf("%s\n", fails ? "FAILED" : "linear kernels pass");
  return fails;
}
