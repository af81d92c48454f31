// conv2d on the CPU: forward, backward-data and backward-weight at the shapes that dominate a CRU
// network (the depthwise 3x3, a wide 1x1, a ResNeXt-style grouped 3x3). Reports GFLOP/s with
// flops = 2 * multiply-adds, the same count for all three passes. Wall-clock time, since the
// backend runs on several threads.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "crunet/crunet.h"
#include "ops/conv2d_backend.h"

namespace {

using crunet::Shape;
using crunet::Tensor;
using crunet::ops::Conv2dParams;

struct Geometry {
  std::int64_t n, c_in, c_out, size, k, stride, padding, groups;

  Conv2dParams params() const { return {stride, padding, groups, 1}; }
  std::int64_t out() const { return crunet::ops::conv2d_output_size(size, k, params()); }
  Shape x_shape() const { return {n, c_in, size, size}; }
  Shape weight_shape() const { return {c_out, c_in / groups, k, k}; }
  Shape y_shape() const { return {n, c_out, out(), out()}; }
  double flops() const {
    return 2.0 * static_cast<double>(n * c_out * out() * out()) *
           static_cast<double>(c_in / groups * k * k);
  }
};

// Indexed by the benchmark's argument.
const Geometry kGeometries[] = {
    {8, 640, 640, 14, 3, 1, 1, 640},  // depthwise 3x3, C=640, 14x14
    {8, 1024, 640, 14, 1, 1, 0, 1},   // 1x1, 1024 -> 640, 14x14
    {8, 256, 256, 28, 3, 1, 1, 32},   // grouped 3x3, 32 groups, 256 -> 256, 28x28
};
const char* const kNames[] = {"depthwise3x3_C640_14x14", "1x1_1024to640_14x14",
                              "grouped3x3_g32_256_28x28"};

void report(benchmark::State& state, const Geometry& g) {
  state.SetLabel(kNames[state.range(0)]);
  state.counters["GFLOP/s"] = benchmark::Counter(
      g.flops() * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_Conv2dForward(benchmark::State& state) {
  const Geometry& g = kGeometries[state.range(0)];
  const Tensor x = crunet::randn(g.x_shape(), 1), w = crunet::randn(g.weight_shape(), 2);
  crunet::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(crunet::ops::conv2d(x, w, Tensor(), g.params()));
  report(state, g);
}

void BM_Conv2dBackwardData(benchmark::State& state) {
  const Geometry& g = kGeometries[state.range(0)];
  const Tensor grad_y = crunet::randn(g.y_shape(), 1), w = crunet::randn(g.weight_shape(), 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        crunet::ops::cpu::conv2d_backward_data(grad_y, w, g.x_shape(), g.params()));
  }
  report(state, g);
}

void BM_Conv2dBackwardWeight(benchmark::State& state) {
  const Geometry& g = kGeometries[state.range(0)];
  const Tensor grad_y = crunet::randn(g.y_shape(), 1), x = crunet::randn(g.x_shape(), 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        crunet::ops::cpu::conv2d_backward_weight(grad_y, x, g.weight_shape(), g.params()));
  }
  report(state, g);
}

BENCHMARK(BM_Conv2dForward)->DenseRange(0, 2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2dBackwardData)->DenseRange(0, 2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2dBackwardWeight)->DenseRange(0, 2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
