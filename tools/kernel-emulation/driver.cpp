#include "harness.h"
#include <cstdio>
#include <random>
#include "conv2d.cuh"
#include "crunet/core/half.h"

using namespace crunet;
using kernels::Conv3x3Geometry;

struct Ref { std::vector<double> y, dx, dw; };

// Plain grouped conv 3x3 pad 1, G channels per group.
Ref reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& gy,
              const Conv3x3Geometry& g) {
  const int64_t N = g.batch, C = g.channels, H = g.height, W = g.width, Ho = g.out_height, Wo = g.out_width, G = g.group_channels, S = g.stride;
  Ref r; r.y.assign(N*C*Ho*Wo, 0); r.dx.assign(N*C*H*W, 0); r.dw.assign(C*G*9, 0);
  for (int64_t n = 0; n < N; ++n) for (int64_t co = 0; co < C; ++co) for (int64_t oh = 0; oh < Ho; ++oh) for (int64_t ow = 0; ow < Wo; ++ow) {
    const int64_t yi = ((n*C+co)*Ho+oh)*Wo+ow;
    for (int64_t ci = 0; ci < G; ++ci) for (int kh = 0; kh < 3; ++kh) for (int kw = 0; kw < 3; ++kw) {
      const int64_t ih = oh*S-1+kh, iw = ow*S-1+kw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const int64_t cin = (co/G)*G + ci;
      const int64_t xi = ((n*C+cin)*H+ih)*W+iw, wi = (co*G+ci)*9+kh*3+kw;
      r.y[yi] += double(x[xi]) * w[wi];
      r.dx[xi] += double(gy[yi]) * w[wi];
      r.dw[wi] += double(gy[yi]) * x[xi];
    }
  }
  return r;
}

std::vector<float> rnd(size_t n, unsigned seed) { std::mt19937 gen(seed); std::normal_distribution<float> d; std::vector<float> v(n); for (auto& e : v) e = d(gen); return v; }
std::vector<std::uint16_t> to_bf(const std::vector<float>& v) { std::vector<std::uint16_t> o(v.size()); for (size_t i=0;i<v.size();++i) o[i]=float_to_bfloat16_bits(v[i]); return o; }
std::vector<float> from_bf(const std::vector<std::uint16_t>& v) { std::vector<float> o(v.size()); for (size_t i=0;i<v.size();++i) o[i]=bfloat16_bits_to_float(v[i]); return o; }

int failures = 0;
template <typename A>
void compare(const char* what, const A& got, const std::vector<double>& want, double rtol, double atol) {
  double worst = 0; size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]) / (atol + rtol * std::fabs(want[i]));
    if (err > worst) { worst = err; at = i; }
  }
  if (worst > 1 || got.size() != want.size()) { ++failures; std::printf("  FAIL %s: worst %.3g at %zu got %g want %g\n", what, worst, at, double(got[at]), want[at]); }
}

void run_case(int64_t N, int64_t C, int64_t H, int64_t W, int S, int G) {
  Conv3x3Geometry g; g.batch=N; g.channels=C; g.height=H; g.width=W; g.out_height=(H-1)/S+1; g.out_width=(W-1)/S+1; g.stride=S; g.group_channels=G;
  std::printf("case N%ld C%ld %ldx%ld s%d G%d -> %ldx%ld chunks %ld/%ld\n", N, C, H, W, S, G, g.out_height, g.out_width, kernels::conv3x3_filter_chunks(g).chunks, kernels::conv3x3_filter_chunks(g).images_per_chunk);
  auto x = rnd(N*C*H*W, 1), w = rnd(C*G*9, 2), gy = rnd(N*C*g.out_height*g.out_width, 3);
  // float
  {
    Ref r = reference(x, w, gy, g);
    std::vector<float> y(r.y.size(), NAN), dx(r.dx.size(), NAN), dw(r.dw.size(), NAN);
    std::vector<float> ws(kernels::conv3x3_filter_workspace_bytes(g)/4, NAN);
    if (G == 1) {
      kernels::depthwise_conv3x3_forward(x.data(), w.data(), y.data(), g, nullptr);
      kernels::depthwise_conv3x3_backward_data(gy.data(), w.data(), dx.data(), g, nullptr);
      kernels::depthwise_conv3x3_backward_filter(gy.data(), x.data(), dw.data(), ws.data(), g, nullptr);
    } else {
      kernels::grouped_conv3x3_forward(x.data(), w.data(), y.data(), g, nullptr);
      kernels::grouped_conv3x3_backward_data(gy.data(), w.data(), dx.data(), g, nullptr);
      kernels::grouped_conv3x3_backward_filter(gy.data(), x.data(), dw.data(), ws.data(), g, nullptr);
    }
    compare("fp32 forward", y, r.y, 1e-5, 1e-5);
    compare("fp32 backward-data", dx, r.dx, 1e-5, 1e-5);
    compare("fp32 backward-filter", dw, r.dw, 1e-5, 1e-4);
  }
  // bf16: reference on the rounded inputs
  {
    auto xb = to_bf(x), wb = to_bf(w), gyb = to_bf(gy);
    Ref r = reference(from_bf(xb), from_bf(wb), from_bf(gyb), g);
    std::vector<std::uint16_t> y(r.y.size()), dx(r.dx.size()), dw(r.dw.size());
    std::vector<float> ws(kernels::conv3x3_filter_workspace_bytes(g)/4, NAN);
    if (G == 1) {
      kernels::depthwise_conv3x3_forward(xb.data(), wb.data(), y.data(), g, nullptr);
      kernels::depthwise_conv3x3_backward_data(gyb.data(), wb.data(), dx.data(), g, nullptr);
      kernels::depthwise_conv3x3_backward_filter(gyb.data(), xb.data(), dw.data(), ws.data(), g, nullptr);
    } else {
      kernels::grouped_conv3x3_forward(xb.data(), wb.data(), y.data(), g, nullptr);
      kernels::grouped_conv3x3_backward_data(gyb.data(), wb.data(), dx.data(), g, nullptr);
      kernels::grouped_conv3x3_backward_filter(gyb.data(), xb.data(), dw.data(), ws.data(), g, nullptr);
    }
    compare("bf16 forward", from_bf(y), r.y, 8e-3, 1e-2);
    compare("bf16 backward-data", from_bf(dx), r.dx, 8e-3, 1e-2);
    compare("bf16 backward-filter", from_bf(dw), r.dw, 8e-3, 5e-2);
  }
}

int main() {
  run_case(1, 4, 7, 7, 1, 1);
  run_case(3, 8, 13, 13, 2, 1);
  run_case(2, 6, 7, 5, 1, 1);
  run_case(2, 5, 14, 9, 2, 1);
  run_case(1, 16, 7, 7, 1, 4);
  run_case(3, 8, 13, 11, 2, 4);
  run_case(2, 16, 9, 9, 1, 8);
  run_case(3, 24, 13, 13, 2, 8);
  run_case(5, 3, 30, 30, 1, 1);   // several chunks
  run_case(9, 8, 20, 20, 2, 8);   // several chunks grouped
  run_case(2, 2, 3, 600, 1, 1);   // out_width > 256 threads
  run_case(2, 4, 5, 513, 2, 4);   // out_width 257
  run_case(3, 2, 4, 256, 1, 1);   // out_width = 256 threads
  run_case(40, 2, 3, 3, 2, 1);    // tiny planes, many images per block
  run_case(64, 4, 7, 7, 1, 4);
  // bias kernels
  {
    const int64_t N = 3, C = 5, A = 37;
    auto y = rnd(N*C*A, 4), b = rnd(C, 5);
    auto yb = to_bf(y), bb = to_bf(b);
    std::vector<double> want(N*C*A); auto yr = from_bf(yb), br = from_bf(bb);
    for (int64_t i = 0; i < N*C*A; ++i) want[i] = yr[i] + br[(i/A)%C];
    kernels::add_channel_bias(yb.data(), bb.data(), N, C, A, nullptr);
    compare("bf16 add_channel_bias", from_bf(yb), want, 8e-3, 1e-2);
    std::vector<std::uint16_t> s(C); std::vector<double> ws(C, 0);
    auto gy = to_bf(rnd(N*C*A, 6)); auto gyf = from_bf(gy);
    for (int64_t i = 0; i < N*C*A; ++i) ws[(i/A)%C] += gyf[i];
    kernels::channel_sums(gy.data(), s.data(), N, C, A, nullptr);
    compare("bf16 channel_sums", from_bf(s), ws, 8e-3, 5e-2);
  }
  std::printf("%s (%d failures, %lld blocks emulated)\n", failures ? "FAILED" : "all passed", failures, emulated_blocks);
  return failures != 0;
}
