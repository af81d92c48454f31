// kernels/cast.cu's kernel on the CPU, launched as cast() launches it: float32 -> bfloat16 against
// an independent round-to-nearest-even (nearest of the two neighbours in double, ties to the even
// one, NaN stays NaN) and bit for bit against the CPU's float_to_bfloat16_bits; bfloat16 -> float32
// for all 65536 patterns.
#include "harness.h"
#include "cast.cpp"  // transformed, kernels only
#include "check.h"
#include <cstring>
using namespace crunet;
using crunet::ops::cuda::cast_kernel;

template <typename In, typename Out>
void launch(const In* x, Out* y, std::int64_t count, unsigned grid = 0) {
  emulate_launch(dim3(grid ? grid : kernels::blocks_for(count)), dim3(kernels::kThreads),
                 [&] { cast_kernel(x, y, count); });
}
float bits_float(std::uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
std::uint32_t float_bits(float f) { std::uint32_t b; std::memcpy(&b, &f, 4); return b; }

// Round to nearest even, from first principles.
std::uint16_t rne(float x) {
  const std::uint32_t b = float_bits(x);
  if (std::isnan(x)) return 0xffff;  // any NaN: checked separately
  const std::uint16_t lo = b >> 16, hi = lo + 1;  // truncation and the next pattern away from 0
  if ((b & 0xffff) == 0) return lo;
  const double dl = std::fabs(double(x) - bfloat16_bits_to_float(lo));
  const float fhi = bfloat16_bits_to_float(hi);  // may be +-inf: then x rounds to it only above the midpoint
  const double dh = std::isinf(fhi) ? std::ldexp(1.0, 128) - std::fabs(double(x)) : std::fabs(double(x) - fhi);
  if (dl < dh) return lo;
  if (dh < dl) return hi;
  return (lo & 1) ? hi : lo;
}

int main() {
  std::vector<float> x;
  for (std::uint32_t b : {0x00000000u, 0x80000000u, 0x00000001u, 0x00008000u, 0x00018000u, 0x007fffffu,
                          0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0xbf808000u, 0xbf818000u,
                          0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0xff7fffffu, 0x7f800000u, 0xff800000u,
                          0x7f800001u, 0x7fc00000u, 0xffc00000u, 0x7f80ffffu, 0xff810000u, 0x7fffffffu, 0x3f800000u})
    x.push_back(bits_float(b));
  std::mt19937 gen(3);
  for (int i = 0; i < 3000; ++i) x.push_back(bits_float(gen()));  // every exponent, NaNs included
  for (float v : rnd(1000, 4)) x.push_back(v);
  for (int i = 0; i < 500; ++i) x.push_back(bits_float((gen() & 0xffff0000u) | 0x8000u));  // exact ties
  const std::int64_t n = std::int64_t(x.size());
  for (unsigned grid : {0u, 3u}) {
    std::vector<std::uint16_t> y(n, 0x1234);
    launch(x.data(), y.data(), n, grid);
    ++checks;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint32_t b = float_bits(x[i]);
      const bool nan_ok = std::isnan(x[i]) && (y[i] & 0x7f80) == 0x7f80 && (y[i] & 0x7f) != 0 && (y[i] & 0x40) &&
                          (y[i] >> 15) == (b >> 31);
      if ((std::isnan(x[i]) ? !nan_ok : y[i] != rne(x[i])) || y[i] != float_to_bfloat16_bits(x[i])) {
        ++failures;
        std::printf("  FAIL fp32->bf16 (grid %u) at %ld: %08x -> %04x, want %04x (CPU %04x)\n", grid, i, b, y[i],
                    rne(x[i]), float_to_bfloat16_bits(x[i]));
        break;
      }
    }
  }
  // Every bfloat16 pattern back to float32: the exact upper half, NaN payloads included.
  std::vector<std::uint16_t> all(65536); for (int i = 0; i < 65536; ++i) all[i] = std::uint16_t(i);
  std::vector<float> back(65536);
  launch(all.data(), back.data(), 65536, 16);
  ++checks;
  for (int i = 0; i < 65536; ++i) if (float_bits(back[i]) != std::uint32_t(i) << 16) {
    ++failures; std::printf("  FAIL bf16->fp32 %04x -> %08x\n", i, float_bits(back[i])); break; }
  for (std::int64_t count : {1, 255, 257, 1000}) {  // the host's launch configuration
    std::vector<float> b(count + 1, -1.0f);
    launch(all.data() + 0x3f00, b.data(), count);
    ++checks;
    for (std::int64_t i = 0; i < count; ++i) if (b[i] != bfloat16_bits_to_float(all[0x3f00 + i])) { ++failures; break; }
    if (b[count] != -1.0f) { ++failures; std::printf("  FAIL wrote past the end\n"); }
  }
  std::printf("cast: %s (%d of %d checks failed, %lld blocks emulated)\n", failures ? "FAILED" : "pass", failures, checks, emulated_blocks);
  return failures != 0;
}
