// kernels/relu.cu, add.cu and sgd_update.cu's kernels on the CPU, launched as their host entries
// launch them (blocks_for(count) x kThreads), float32 and bfloat16 (SGD float32 only), against
// double-precision loops; sizes around one block, and one launch with a short grid so that the
// grid-stride loop turns.
#include "harness.h"
#include "relu.cpp"        // transformed, kernels only
#include "add.cpp"
#include "sgd_update.cpp"
#include "check.h"
using namespace crunet;
using I64 = std::int64_t;

template <typename F>
void launch(I64 count, F body, unsigned grid = 0) {
  emulate_launch(dim3(grid ? grid : kernels::blocks_for(count)), dim3(kernels::kThreads), body);
}

template <typename T>
void run(const char* tag, I64 n, unsigned grid) {
  auto convert = [](const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, float>) return v; else return to_bf(v); };
  auto x0 = rnd(n, 21), b0 = rnd(n, 22), g0 = rnd(n, 23);
  if (n > 3) { x0[1] = NAN; x0[2] = -INFINITY; x0[3] = INFINITY; x0[0] = -0.0f; }
  const auto x = convert(x0), b = convert(b0), gy = convert(g0);
  const auto xf = as_float(x), bf = as_float(b), gf = as_float(gy);
  const double tol = std::is_same_v<T, float> ? 1e-7 : 4e-3;
  std::vector<double> relu(n), relu_back(n), sum(n);
  for (I64 i = 0; i < n; ++i) {
    relu[i] = xf[i] > 0 ? xf[i] : 0.0;  // NaN -> 0, as the CPU op
    sum[i] = double(xf[i]) + bf[i];
  }
  std::vector<T> y(n + 1), gx(n + 1), s(n + 1);
  const T guard = convert(std::vector<float>{12345.0f})[0];
  y[n] = gx[n] = s[n] = guard;
  launch(n, [&] { ops::cuda::relu_forward_kernel(x.data(), y.data(), n); }, grid);
  for (I64 i = 0; i < n; ++i) relu_back[i] = as_float(y)[i] > 0 ? gf[i] : 0.0;
  launch(n, [&] { ops::cuda::relu_backward_kernel(gy.data(), y.data(), gx.data(), n); }, grid);
  launch(n, [&] { ops::cuda::add_kernel(x.data(), b.data(), s.data(), n); }, grid);
  auto head = [n](const std::vector<T>& v) { return as_float(std::vector<T>(v.begin(), v.begin() + n)); };
  std::string t = std::string(tag) + " n" + std::to_string(n) + (grid ? " short grid" : "");
  compare((t + " relu forward").c_str(), head(y), relu, 0, 0);
  compare((t + " relu backward").c_str(), head(gx), relu_back, 0, 0);
  compare((t + " add").c_str(), head(s), sum, tol, 1e-7);
  ++checks;
  if (y[n] != guard || gx[n] != guard || s[n] != guard) { ++failures; std::printf("  FAIL %s: wrote past the end\n", t.c_str()); }
}

void sgd(I64 n, unsigned grid) {
  for (int variant = 0; variant < 4; ++variant) {
    const bool nesterov = variant & 1, first = variant & 2;
    const float lr = 0.1f, mu = 0.9f, wd = 5e-4f;
    auto p = rnd(n + 1, 31), g = rnd(n + 1, 32), buf = rnd(n + 1, 33);
    std::vector<double> wp(n), wb(n);
    for (I64 i = 0; i < n; ++i) {
      const double d = double(g[i]) + double(wd) * p[i];
      const double bb = first ? d : double(mu) * buf[i] + d;
      wb[i] = bb; wp[i] = p[i] - double(lr) * (nesterov ? d + double(mu) * bb : bb);
    }
    const float p_end = p[n], b_end = buf[n];
    launch(n, [&] { optim::sgd_update_kernel(p.data(), g.data(), buf.data(), n, lr, mu, wd, nesterov, first); }, grid);
    std::string t = "sgd n" + std::to_string(n) + (nesterov ? " nesterov" : "") + (first ? " first" : "") + (grid ? " short grid" : "");
    compare((t + " p").c_str(), std::vector<float>(p.begin(), p.begin() + n), wp, 1e-6, 1e-7);
    compare((t + " buf").c_str(), std::vector<float>(buf.begin(), buf.begin() + n), wb, 1e-6, 1e-7);
    ++checks;
    if (p[n] != p_end || buf[n] != b_end) { ++failures; std::printf("  FAIL %s: wrote past the end\n", t.c_str()); }
  }
}

int main() {
  for (I64 n : {1, 5, 255, 256, 257, 1000, 3001}) {
    run<float>("fp32", n, 0); run<std::uint16_t>("bf16", n, 0); sgd(n, 0);
  }
  run<float>("fp32", 3001, 2); run<std::uint16_t>("bf16", 3001, 2); sgd(3001, 2);
  std::printf("relu/add/sgd_update: %s (%d of %d checks failed, %lld blocks emulated)\n", failures ? "FAILED" : "pass", failures, checks, emulated_blocks);
  return failures != 0;
}
