// kernels/batch_norm.cu on the CPU: statistics with the running update, var <-> invstd, normalise,
// the backward sums, training grad_x and evaluation grad_x, float32 and bfloat16, chained as
// src/ops/cuda/batch_norm.cpp chains them, against double-precision loops.
#include "harness.h"
#include "batch_norm.cpp"  // transformed: the host entries, and the kernels for the short-grid launches
#include "check.h"
using namespace crunet;
using I64 = std::int64_t;

template <typename T>
void run(const char* tag, I64 N, I64 C, I64 A, const std::vector<float>& x0, const std::vector<float>& dy0) {
  auto convert = [](const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, float>) return v; else return to_bf(v); };
  const std::vector<T> x = convert(x0), dy = convert(dy0);
  const std::vector<float> xf = as_float(x), dyf = as_float(dy);
  const bool bf = !std::is_same_v<T, float>;
  const double tol = bf ? 1e-2 : 2e-5;  // outputs stored as T
  const I64 m = N * A, total = N * C * A;
  const float eps = 1e-5f, momentum = 0.1f;
  auto w = rnd(C, 7), b = rnd(C, 8), rm = rnd(C, 9), rv0 = rnd(C, 10);
  std::vector<float> rv(C); for (I64 c = 0; c < C; ++c) rv[c] = 0.5f + std::fabs(rv0[c]);
  // reference
  std::vector<double> mean(C, 0), var(C, 0), rm_w(C), rv_w(C), invstd(C), y(total), y_plain(total),
      sdy(C, 0), sdyx(C, 0), dx(total), dx_eval(total), dx_eval1(total);
  auto ch = [&](I64 i) { return (i / A) % C; };
  for (I64 i = 0; i < total; ++i) mean[ch(i)] += xf[i];
  for (auto& e : mean) e /= m;
  for (I64 i = 0; i < total; ++i) var[ch(i)] += (xf[i] - mean[ch(i)]) * (xf[i] - mean[ch(i)]);
  for (I64 c = 0; c < C; ++c) {
    var[c] /= m;
    rm_w[c] = (1 - momentum) * rm[c] + momentum * mean[c];
    rv_w[c] = (1 - momentum) * rv[c] + momentum * var[c] * m / (m - 1);
  }
  // Later stages start from the kernel's own statistics, as the op does; the reference from the
  // float32 values the kernels were given.
  std::vector<float> k_mean(C, NAN), k_var(C, NAN), k_rm = rm, k_rv = rv, k_invstd(C, NAN), k_var2(C, NAN);
  kernels::bn_batch_statistics(x.data(), k_mean.data(), k_var.data(), k_rm.data(), k_rv.data(), momentum, N, C, A, nullptr);
  std::vector<float> k_mean2(C, NAN), k_var3(C, NAN);
  // A grid shorter than the channels (as above 65536 channels): blocks take several channels.
  emulate_launch(dim3(2), dim3(kernels::kThreads), [&] { kernels::batch_statistics_kernel(
      x.data(), k_mean2.data(), k_var3.data(), (float*)nullptr, (float*)nullptr, momentum, N, C, A); });
  std::string s(tag);
  // The float sum of m values: relative error ~ m * 2^-24 at worst, a tree keeps it far lower.
  double mean_scale = 0; for (I64 c = 0; c < C; ++c) mean_scale = std::max(mean_scale, std::sqrt(var[c]));
  compare((s + " mean").c_str(), k_mean, mean, 1e-5, 1e-5 * (1 + mean_scale));
  compare((s + " var").c_str(), k_var, var, 1e-4, 1e-7);
  compare((s + " mean (no running, grid 2)").c_str(), k_mean2, mean, 1e-5, 1e-5 * (1 + mean_scale));
  compare((s + " var (no running, grid 2)").c_str(), k_var3, var, 1e-4, 1e-7);
  compare((s + " running_mean").c_str(), k_rm, rm_w, 1e-5, 1e-6);
  compare((s + " running_var").c_str(), k_rv, rv_w, 1e-5, 1e-6);
  kernels::bn_var_to_invstd(k_var.data(), k_invstd.data(), C, eps, nullptr);
  kernels::bn_invstd_to_var(k_invstd.data(), k_var2.data(), C, eps, nullptr);
  std::vector<double> want_invstd(C), want_var2(C);
  for (I64 c = 0; c < C; ++c) { want_invstd[c] = 1 / std::sqrt(double(k_var[c]) + eps); want_var2[c] = k_var[c]; }
  compare((s + " var_to_invstd").c_str(), k_invstd, want_invstd, 1e-6, 0);
  compare((s + " invstd_to_var").c_str(), k_var2, want_var2, 1e-5, 1e-6 * eps);
  for (I64 i = 0; i < total; ++i) {
    const I64 c = ch(i);
    const double xhat = (xf[i] - double(k_mean[c])) * double(k_invstd[c]);
    y[i] = xhat * w[c] + b[c];
    y_plain[i] = xhat;
    sdy[c] += dyf[i];
    sdyx[c] += dyf[i] * xhat;
    dx_eval[i] = double(w[c]) * k_invstd[c] * dyf[i];
    dx_eval1[i] = double(k_invstd[c]) * dyf[i];
  }
  for (I64 i = 0; i < total; ++i) {
    const I64 c = ch(i);
    const double xhat = (xf[i] - double(k_mean[c])) * double(k_invstd[c]);
    dx[i] = double(w[c]) * k_invstd[c] / m * (m * double(dyf[i]) - sdy[c] - xhat * sdyx[c]);
  }
  double y_scale = 0, dx_scale = 0, s_scale = 0;
  for (I64 i = 0; i < total; ++i) { y_scale = std::max(y_scale, std::fabs(y[i])); dx_scale = std::max(dx_scale, std::fabs(dx[i])); }
  for (I64 c = 0; c < C; ++c) s_scale = std::max(s_scale, std::fabs(sdy[c]) + std::fabs(sdyx[c]));
  std::vector<T> ky(total), ky2(total), kdx(total), kdxe(total), kdxe1(total);
  kernels::bn_normalize(x.data(), k_mean.data(), k_invstd.data(), w.data(), b.data(), ky.data(), N, C, A, nullptr);
  kernels::bn_normalize(x.data(), k_mean.data(), k_invstd.data(), (const float*)nullptr, (const float*)nullptr, ky2.data(), N, C, A, nullptr);
  compare((s + " normalize").c_str(), as_float(ky), y, tol, tol * 1e-1 * (1 + y_scale));
  compare((s + " normalize (no weight, bias)").c_str(), as_float(ky2), y_plain, tol, tol * 1e-1 * (1 + y_scale));
  std::vector<float> k_sdy(C, NAN), k_sdyx(C, NAN), k_sdy_only(C, NAN);
  kernels::bn_channel_sums(dy.data(), x.data(), k_mean.data(), k_invstd.data(), k_sdy.data(), k_sdyx.data(), N, C, A, nullptr);
  // Without sum_dy_xhat the kernel must not touch x, mean or invstd: pass nulls; grid 2.
  emulate_launch(dim3(2), dim3(kernels::kThreads), [&] { kernels::channel_sums_kernel(
      dy.data(), (const T*)nullptr, (const float*)nullptr, (const float*)nullptr, k_sdy_only.data(), (float*)nullptr, N, C, A); });
  compare((s + " sum_dy").c_str(), k_sdy, sdy, 1e-4, 1e-5 * (1 + s_scale));
  compare((s + " sum_dy_xhat").c_str(), k_sdyx, sdyx, 1e-4, 1e-5 * (1 + s_scale));
  compare((s + " sum_dy (alone, grid 2)").c_str(), k_sdy_only, sdy, 1e-4, 1e-5 * (1 + s_scale));
  kernels::bn_backward_data(dy.data(), x.data(), k_mean.data(), k_invstd.data(), w.data(), k_sdy.data(), k_sdyx.data(), kdx.data(), N, C, A, nullptr);
  compare((s + " backward_data").c_str(), as_float(kdx), dx, tol, (bf ? 2e-2 : 1e-4) * (1 + dx_scale));
  kernels::bn_scale_grad(dy.data(), w.data(), k_invstd.data(), kdxe.data(), N, C, A, nullptr);
  kernels::bn_scale_grad(dy.data(), (const float*)nullptr, k_invstd.data(), kdxe1.data(), N, C, A, nullptr);
  compare((s + " scale_grad").c_str(), as_float(kdxe), dx_eval, tol, 1e-6);
  compare((s + " scale_grad (no weight)").c_str(), as_float(kdxe1), dx_eval1, tol, 1e-6);
}

void run_case(I64 N, I64 C, I64 H, I64 W, float mean = 0, float sd = 1) {
  const I64 A = H * W;
  std::printf("case N%ld C%ld %ldx%ld (mean %g sd %g)\n", N, C, H, W, mean, sd);
  auto x = rnd(N * C * A, 1, mean, sd), dy = rnd(N * C * A, 2);
  const int before = failures;
  run<float>("fp32", N, C, A, x, dy);
  run<std::uint16_t>("bf16", N, C, A, x, dy);
  if (failures != before) std::printf("  ^ case failed\n");
}

int main() {
  run_case(2, 3, 5, 7);       // planes smaller than a block
  run_case(3, 2, 17, 19);     // plane of 323 > 256 threads
  run_case(2, 5, 1, 1);       // count 2 per channel
  run_case(1, 4, 16, 16);     // plane exactly one block
  run_case(5, 33, 3, 3);      // many channels, tiny planes
  run_case(2, 3, 30, 31);     // plane of 930
  run_case(4, 2, 9, 9, 100.0f, 0.1f);  // mean large against the spread (two-pass statistics)
  std::printf("batch_norm: %s (%d of %d checks failed, %lld blocks emulated)\n", failures ? "FAILED" : "pass", failures, checks, emulated_blocks);
  return failures != 0;
}
