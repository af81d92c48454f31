// What the CPU backend's activation layout costs, measured with oneDNN directly (issue 9): for
// crunet56's convolution and batch-norm shapes at batch 8, the time of forward + backward-data +
// backward-weights (batch norm: forward training + backward) when activations are
//   nchw:    plain NCHW tensors, reordered to and from the layout oneDNN picks around each call,
//   nhwc:    channels-last tensors handed to the primitives as they are (what crunet does),
//   blocked: oneDNN's own blocked layout throughout, no reorder (the lower bound).
// Best of 5 runs per pass, milliseconds. Usage: onednn_layouts (OMP_NUM_THREADS sets threads).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

template <typename F>
double best_ms(Context& c, F run) {
  run();
  c.stream.wait();
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    c.stream.wait();
    best = std::min(
        best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
  }
  return best;
}

memory filled(Context& c, const memory::desc& desc) {
  memory m(desc, c.engine);
  auto* p = static_cast<float*>(m.get_data_handle());
  const std::size_t n = desc.get_size() / sizeof(float);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
  return m;
}

struct Conv {
  const char* name;
  memory::dim n, ic, hw, oc, k, stride, groups;
};

enum class Layout { kNchw, kNhwc, kBlocked };

// Forward + backward-data + backward-weights of one convolution, plus the activation reorders
// the layout needs (NCHW: src and grad_y in, y and grad_x out; the weights' reorders are the
// same in every layout and left out).
double conv_ms(Context& c, const Conv& v, Layout layout) {
  const memory::dim pad = v.k / 2, ohw = (v.hw + 2 * pad - v.k) / v.stride + 1;
  const memory::dims src{v.n, v.ic, v.hw, v.hw}, dst{v.n, v.oc, ohw, ohw};
  const memory::dims wei = v.groups == 1
                               ? memory::dims{v.oc, v.ic, v.k, v.k}
                               : memory::dims{v.groups, v.oc / v.groups, v.ic / v.groups, v.k, v.k};
  const Tag act = layout == Layout::kNhwc ? Tag::nhwc : Tag::any;
  const memory::desc s(src, kF32, act), d(dst, kF32, act), w(wei, kF32, Tag::any);
  const memory::dims strides{v.stride, v.stride}, pads{pad, pad};
  const auto alg = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::primitive_desc fwd(
      {dnnl::prop_kind::forward_training, alg, s, w, d, strides, pads, pads}, c.engine);
  const dnnl::convolution_backward_data::primitive_desc bwd_data(
      {alg, s, w, d, strides, pads, pads}, c.engine, fwd);
  const dnnl::convolution_backward_weights::primitive_desc bwd_weights(
      {alg, s, w, d, strides, pads, pads}, c.engine, fwd);
  memory x = filled(c, fwd.src_desc()), y(fwd.dst_desc(), c.engine);
  memory weights = filled(c, fwd.weights_desc()), grad_w(bwd_weights.diff_weights_desc(), c.engine);
  memory grad_y = filled(c, bwd_data.diff_dst_desc()), grad_x(bwd_data.diff_src_desc(), c.engine);
  dnnl::convolution_forward f(fwd);
  dnnl::convolution_backward_data bd(bwd_data);
  dnnl::convolution_backward_weights bw(bwd_weights);
  double total = best_ms(c, [&] {
    f.execute(c.stream, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, y}});
  });
  total += best_ms(c, [&] {
    bd.execute(
        c.stream,
        {{DNNL_ARG_DIFF_DST, grad_y}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, grad_x}});
  });
  total += best_ms(c, [&] {
    bw.execute(c.stream,
               {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, grad_y}, {DNNL_ARG_DIFF_WEIGHTS, grad_w}});
  });
  if (layout == Layout::kNchw) {
    memory plain_x(memory::desc(src, kF32, Tag::nchw), c.engine);
    memory plain_y(memory::desc(dst, kF32, Tag::nchw), c.engine);
    const auto reorder = [&](memory& from, memory& to) {
      dnnl::reorder r(from, to);
      return best_ms(c, [&] { r.execute(c.stream, from, to); });
    };
    total += reorder(plain_x, x) + reorder(y, plain_y);            // forward: x in, y out
    total += reorder(plain_y, grad_y) + reorder(grad_x, plain_x);  // backward-data
    total += reorder(plain_x, x) + reorder(plain_y, grad_y);       // backward-weights
  }
  return total;
}

double batch_norm_ms(Context& c, memory::dim n, memory::dim ch, memory::dim hw, Tag tag) {
  const memory::desc data({n, ch, hw, hw}, kF32, tag), stat({ch}, kF32, Tag::x);
  const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  const dnnl::batch_normalization_forward::primitive_desc fwd(
      {dnnl::prop_kind::forward_training, data, 1e-5f, flags}, c.engine);
  const dnnl::batch_normalization_backward::primitive_desc bwd(
      {dnnl::prop_kind::backward, data, data, 1e-5f, flags}, c.engine, fwd);
  memory x = filled(c, data), y(data, c.engine), grad_y = filled(c, data), grad_x(data, c.engine);
  memory mean(stat, c.engine), var(stat, c.engine), scale = filled(c, stat),
                                                    shift = filled(c, stat);
  memory grad_scale(stat, c.engine), grad_shift(stat, c.engine);
  dnnl::batch_normalization_forward f(fwd);
  dnnl::batch_normalization_backward b(bwd);
  return best_ms(c,
                 [&] {
                   f.execute(c.stream, {{DNNL_ARG_SRC, x},
                                        {DNNL_ARG_DST, y},
                                        {DNNL_ARG_MEAN, mean},
                                        {DNNL_ARG_VARIANCE, var},
                                        {DNNL_ARG_SCALE, scale},
                                        {DNNL_ARG_SHIFT, shift}});
                 }) +
         best_ms(c, [&] {
           b.execute(c.stream, {{DNNL_ARG_SRC, x},
                                {DNNL_ARG_DIFF_DST, grad_y},
                                {DNNL_ARG_MEAN, mean},
                                {DNNL_ARG_VARIANCE, var},
                                {DNNL_ARG_SCALE, scale},
                                {DNNL_ARG_SHIFT, shift},
                                {DNNL_ARG_DIFF_SRC, grad_x},
                                {DNNL_ARG_DIFF_SCALE, grad_scale},
                                {DNNL_ARG_DIFF_SHIFT, grad_shift}});
         });
}

}  // namespace

int main() {
  Context c;
  const std::vector<Conv> convs{
      {"1x1 256->128, 56x56", 8, 256, 56, 128, 1, 1, 1},
      {"3x3 grouped (32) 128->128, 56x56", 8, 128, 56, 128, 3, 1, 32},
      {"1x1 128->256, 56x56", 8, 128, 56, 256, 1, 1, 1},
      {"1x1 1024->640, 14x14", 8, 1024, 14, 640, 1, 1, 1},
      {"3x3 depthwise 640, 14x14", 8, 640, 14, 640, 3, 1, 640},
      {"1x1 640->1024, 14x14", 8, 640, 14, 1024, 1, 1, 1},
      {"1x1 512->1024 stride 2, 28x28", 8, 512, 28, 1024, 1, 2, 1},
  };
  std::printf(
      "| op (batch 8) | NCHW + reorders | NHWC | blocked, no reorder |\n|---|---|---|---|\n");
  for (const Conv& v : convs) {
    std::printf("| conv %s | %.2f ms | %.2f ms | %.2f ms |\n", v.name, conv_ms(c, v, Layout::kNchw),
                conv_ms(c, v, Layout::kNhwc), conv_ms(c, v, Layout::kBlocked));
  }
  for (const memory::dim ch : {128, 256}) {
    std::printf("| batch norm %ldch, 56x56 | %.2f ms | %.2f ms | %.2f ms |\n",
                static_cast<long>(ch), batch_norm_ms(c, 8, ch, 56, Tag::nchw),
                batch_norm_ms(c, 8, ch, 56, Tag::nhwc), batch_norm_ms(c, 8, ch, 56, Tag::nChw16c));
  }
  std::printf("| batch norm 1024ch, 14x14 | %.2f ms | %.2f ms | %.2f ms |\n",
              batch_norm_ms(c, 8, 1024, 14, Tag::nchw), batch_norm_ms(c, 8, 1024, 14, Tag::nhwc),
              batch_norm_ms(c, 8, 1024, 14, Tag::nChw16c));
}
