// kernels/random.cu's kernel on the CPU, launched as philox_fill() launches it: every element
// against the host's philox::normal4 / uniform4 (core/cuda/philox.h, the reference
// tests/core/philox_test.cpp checks), tails of 1..3 elements, float32 and bfloat16, another launch
// configuration giving the same bits; and the first values against Random123's known answer
// (counter 0, key 0) with Box-Muller redone in double.
#include "harness.h"
#include "random.cpp"  // transformed, kernels only
#include "check.h"
using namespace crunet;
using crunet::cuda::philox_fill_kernel;

template <typename T>
void fill(T* out, std::int64_t count, std::uint64_t seed, std::uint64_t f, bool normal, float scale, float shift,
          unsigned grid = 0, unsigned block = kernels::kThreads) {
  emulate_launch(dim3(grid ? grid : kernels::blocks_for((count + 3) / 4)), dim3(block),
                 [&] { philox_fill_kernel(out, count, seed, f, normal, scale, shift); });
}

int main() {
  // The host functions against the known-answer vectors (as philox_test does).
  const philox::Block kat = philox::philox4x32_10({0, 0, 0, 0}, 0, 0);
  ++checks;
  if (kat.x != 0x6627e8d5u || kat.y != 0xe169c58du || kat.z != 0xbc57ac4cu || kat.w != 0x9b00dbd8u) ++failures;
  const philox::Block kat3 = philox::philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u, 0x299f31d0u);
  ++checks;
  if (kat3.x != 0xd16cfe09u || kat3.y != 0x94fdccebu || kat3.z != 0x5001e420u || kat3.w != 0x24126ea1u) ++failures;
  // Seed 0, fill 0, group 0 is that counter and key: the kernel's first four values.
  {
    std::vector<float> u(4), z(4);
    fill(u.data(), 4, 0, 0, false, 1.0f, 0.0f);
    fill(z.data(), 4, 0, 0, true, 1.0f, 0.0f);
    const std::uint32_t w[4] = {kat.x, kat.y, kat.z, kat.w};
    std::vector<double> wu(4), wz(4);
    for (int j = 0; j < 4; ++j) wu[j] = double(w[j] >> 8) / 16777216.0;
    for (int p = 0; p < 2; ++p) {
      const double u1 = double((w[2 * p] >> 8) + 1) / 16777216.0, u2 = double(w[2 * p + 1] >> 8) / 16777216.0;
      const double r = std::sqrt(-2 * std::log(u1));
      wz[2 * p] = r * std::cos(2 * M_PI * u2); wz[2 * p + 1] = r * std::sin(2 * M_PI * u2);
    }
    compare("uniform known answer", u, wu, 0, 0);
    compare("normal known answer", z, wz, 2e-6, 2e-6);
  }
  struct Case { std::int64_t count; std::uint64_t seed, fill; bool normal; float scale, shift; };
  for (Case c : {Case{1, 0, 0, true, 1, 0}, Case{2, 42, 1, false, 1, 0}, Case{3, 42, 1, true, 0.5f, 2},
                 Case{4, 7, 3, false, 2, -1}, Case{5, 0x0123456789abcdefULL, 0x1111222233334444ULL, true, 1, 0},
                 Case{1027, 9, 2, false, 0.1f, 0.5f}, Case{4097, 9, 2, true, 0.02f, 0}, Case{6001, 1, 0xffffffffULL + 5, true, 3, 1}}) {
    std::vector<double> want(c.count);
    for (std::int64_t g = 0; g < (c.count + 3) / 4; ++g) {
      float v[4];
      if (c.normal) philox::normal4(c.seed, c.fill, g, v); else philox::uniform4(c.seed, c.fill, g, v);
      for (int j = 0; j < 4 && 4 * g + j < c.count; ++j) want[4 * g + j] = c.scale * v[j] + c.shift;
    }
    std::vector<float> y(c.count + 3, -99.0f), y2(c.count + 3, -99.0f);
    std::vector<std::uint16_t> yb(c.count + 3, 0xabcd);
    fill(y.data(), c.count, c.seed, c.fill, c.normal, c.scale, c.shift);
    fill(y2.data(), c.count, c.seed, c.fill, c.normal, c.scale, c.shift, 3, 64);  // other configuration
    fill(yb.data(), c.count, c.seed, c.fill, c.normal, c.scale, c.shift);
    char what[96];
    std::snprintf(what, sizeof what, "%s count %ld fp32", c.normal ? "normal" : "uniform", c.count);
    compare(what, std::vector<float>(y.begin(), y.begin() + c.count), want, 0, 0);
    std::snprintf(what, sizeof what, "%s count %ld fp32, grid 3 x 64", c.normal ? "normal" : "uniform", c.count);
    compare(what, std::vector<float>(y2.begin(), y2.begin() + c.count), want, 0, 0);
    std::vector<double> want_bf(c.count);
    for (std::int64_t i = 0; i < c.count; ++i) want_bf[i] = bfloat16_bits_to_float(float_to_bfloat16_bits(float(want[i])));
    std::snprintf(what, sizeof what, "%s count %ld bf16", c.normal ? "normal" : "uniform", c.count);
    compare(what, from_bf(std::vector<std::uint16_t>(yb.begin(), yb.begin() + c.count)), want_bf, 0, 0);
    ++checks;
    for (int j = 0; j < 3; ++j)
      if (y[c.count + j] != -99.0f || y2[c.count + j] != -99.0f || yb[c.count + j] != 0xabcd) {
        ++failures; std::printf("  FAIL count %ld: wrote past the end\n", c.count); break; }
  }
  std::printf("random: %s (%d of %d checks failed, %lld blocks emulated)\n", failures ? "FAILED" : "pass", failures, checks, emulated_blocks);
  return failures != 0;
}
