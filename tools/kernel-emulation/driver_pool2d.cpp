// kernels/pool2d.cu on the CPU: max pooling (values, argmax indices with ties and NaN, backward)
// and average pooling (count_include_pad = false, backward), bfloat16 (the production path) and
// float32, against plain window loops in double.
#include "harness.h"
#include "pool2d.cuh"
#include "check.h"
using namespace crunet;
using I64 = std::int64_t;
using ops::pool2d::Geometry;

template <typename T>
void run(const char* tag, const Geometry& g, const std::vector<float>& x0, const std::vector<float>& gy0) {
  auto convert = [](const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, float>) return v; else return to_bf(v); };
  const std::vector<T> x = convert(x0), gy = convert(gy0);
  const std::vector<float> xf = as_float(x), gyf = as_float(gy);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 8e-3;
  const I64 outs = g.planes * g.oh * g.ow, ins = g.planes * g.h * g.w;
  std::vector<double> ymax(outs), yavg(outs), gmax(ins, 0), gavg(ins, 0);
  std::vector<std::int32_t> want_idx(outs);
  for (I64 p = 0; p < g.planes; ++p) for (I64 oh = 0; oh < g.oh; ++oh) for (I64 ow = 0; ow < g.ow; ++ow) {
    const I64 o = (p * g.oh + oh) * g.ow + ow;
    double best = -INFINITY, sum = 0; I64 arg = -1, nan_at = -1, n = 0;
    for (I64 kh = 0; kh < g.kernel; ++kh) for (I64 kw = 0; kw < g.kernel; ++kw) {
      const I64 ih = oh * g.stride - g.padding + kh, iw = ow * g.stride - g.padding + kw;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
      const float v = xf[(p * g.h + ih) * g.w + iw];
      if (std::isnan(v)) nan_at = ih * g.w + iw;
      else if (arg < 0 || v > best) { best = v; arg = ih * g.w + iw; }
      sum += v; ++n;
    }
    if (nan_at >= 0) { best = NAN; arg = nan_at; }  // NaN wins (the last one, as PyTorch)
    ymax[o] = best; want_idx[o] = std::int32_t(arg); yavg[o] = sum / n;
    gmax[p * g.h * g.w + arg] += gyf[o];
    for (I64 kh = 0; kh < g.kernel; ++kh) for (I64 kw = 0; kw < g.kernel; ++kw) {
      const I64 ih = oh * g.stride - g.padding + kh, iw = ow * g.stride - g.padding + kw;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
      gavg[(p * g.h + ih) * g.w + iw] += gyf[o] / n;
    }
  }
  std::string s(tag);
  std::vector<T> y(outs), y2(outs), ya(outs), gx(ins), gxa(ins);
  std::vector<std::int32_t> idx(outs, -7);
  kernels::max_pool2d_forward(x.data(), y.data(), idx.data(), g, nullptr);
  kernels::max_pool2d_forward(x.data(), y2.data(), (std::int32_t*)nullptr, g, nullptr);
  compare((s + " max forward").c_str(), as_float(y), ymax, 0, 0);  // a maximum is exact
  compare((s + " max forward (no indices)").c_str(), as_float(y2), ymax, 0, 0);
  ++checks;
  for (I64 o = 0; o < outs; ++o) if (idx[o] != want_idx[o]) {
    ++failures; std::printf("  FAIL %s max indices: at %ld got %d want %d\n", tag, o, idx[o], want_idx[o]); break; }
  kernels::max_pool2d_backward(gy.data(), idx.data(), gx.data(), g, nullptr);
  compare((s + " max backward").c_str(), as_float(gx), gmax, tol, 1e-6);
  kernels::avg_pool2d_forward(x.data(), ya.data(), g, nullptr);
  compare((s + " avg forward").c_str(), as_float(ya), yavg, tol, 1e-6);
  kernels::avg_pool2d_backward(gy.data(), gxa.data(), g, nullptr);
  compare((s + " avg backward").c_str(), as_float(gxa), gavg, tol, 1e-6);
}

void run_case(I64 planes, I64 h, I64 w, I64 k, I64 s, I64 p, bool ties = false, bool nan = false) {
  Geometry g{planes, h, w, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1, k, s, p};
  std::printf("case planes%ld %ldx%ld k%ld s%ld p%ld -> %ldx%ld%s%s\n", planes, h, w, k, s, p, g.oh, g.ow,
              ties ? " ties" : "", nan ? " NaN" : "");
  auto x = rnd(planes * h * w, 11), gy = rnd(planes * g.oh * g.ow, 12);
  if (ties) for (auto& v : x) v = std::floor(std::fabs(v) * 2);  // a few small integers
  if (nan) { x[x.size() / 3] = NAN; x[x.size() / 2] = -INFINITY; }
  const int before = failures;
  run<float>("fp32", g, x, gy);
  run<std::uint16_t>("bf16", g, x, gy);
  if (failures != before) std::printf("  ^ case failed\n");
}

int main() {
  run_case(6, 7, 7, 3, 2, 1);     // the stem's 3x3/2 pad 1
  run_case(3, 13, 11, 3, 2, 1);
  run_case(2, 8, 8, 2, 2, 0);
  run_case(5, 9, 10, 3, 1, 1);    // stride 1: heavy overlap
  run_case(2, 20, 23, 5, 3, 2);
  run_case(3, 1, 1, 1, 1, 0);
  run_case(4, 33, 35, 3, 2, 0);   // > 1 block
  run_case(12, 17, 17, 3, 2, 1, true);  // ties: first maximum wins
  run_case(2, 6, 9, 4, 1, 2, true);     // even kernel, padding k/2
  run_case(3, 10, 10, 3, 2, 1, false, true);  // NaN and -inf
  run_case(1, 4, 300, 3, 2, 1);   // long rows
  std::printf("pool2d: %s (%d of %d checks failed, %lld blocks emulated)\n", failures ? "FAILED" : "pass", failures, checks, emulated_blocks);
  return failures != 0;
}
