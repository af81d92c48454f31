// kernels/global_avg_pool.cu's kernels on the CPU, launched as the host entries launch them: the
// warp-per-plane mean (shuffle reduction; warps of one block run different numbers of planes) and
// the backward spread, float32 and bfloat16, against double loops.
#include "harness.h"
#include "global_avg_pool.cpp"  // transformed, kernels only
#include "check.h"
using namespace crunet;
using namespace crunet::ops::cuda;
using I64 = std::int64_t;

template <typename T>
void run(const char* tag, I64 planes, I64 area) {
  auto convert = [](const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, float>) return v; else return to_bf(v); };
  const auto x = convert(rnd(planes * area, 41, 0.5f)), gy = convert(rnd(planes, 42));
  const auto xf = as_float(x), gf = as_float(gy);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 8e-3;
  std::vector<double> y(planes, 0), gx(planes * area);
  for (I64 i = 0; i < planes * area; ++i) { y[i / area] += xf[i] / area; gx[i] = double(gf[i / area]) / area; }
  const T guard = convert(std::vector<float>{12345.0f})[0];
  std::vector<T> ky(planes + 1), kgx(planes * area + 1);
  ky[planes] = guard; kgx[planes * area] = guard;
  emulate_launch(dim3(kernels::blocks_for(planes, kWarpsPerBlock)), dim3(kernels::kThreads),
                 [&] { plane_mean_kernel(x.data(), ky.data(), planes, area); });
  emulate_launch(dim3(kernels::blocks_for(planes * area)), dim3(kernels::kThreads),
                 [&] { spread_kernel(gy.data(), kgx.data(), area, planes * area); });
  std::string t = std::string(tag) + " planes " + std::to_string(planes) + " area " + std::to_string(area);
  compare((t + " forward").c_str(), as_float(std::vector<T>(ky.begin(), ky.begin() + planes)), y, tol, 1e-6);
  compare((t + " backward").c_str(), as_float(std::vector<T>(kgx.begin(), kgx.begin() + planes * area)), gx, tol, 1e-7);
  ++checks;
  if (ky[planes] != guard || kgx[planes * area] != guard) { ++failures; std::printf("  FAIL %s: wrote past the end\n", t.c_str()); }
}

int main() {
  for (auto [planes, area] : {std::pair<I64, I64>{1, 1}, {5, 49}, {9, 64}, {8, 33}, {3, 300}, {100, 49}, {17, 7}, {64, 1}}) {
    run<float>("fp32", planes, area);
    run<std::uint16_t>("bf16", planes, area);
  }
  std::printf("global_avg_pool: %s (%d of %d checks failed, %lld blocks emulated)\n", failures ? "FAILED" : "pass", failures, checks, emulated_blocks);
  return failures != 0;
}
