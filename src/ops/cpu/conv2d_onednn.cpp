// conv2d with oneDNN 2.x primitives: convolution_forward, convolution_backward_data and
// convolution_backward_weights on float32 or bfloat16 tensors (all of one call's tensors in one
// type; bfloat16 runs on AVX-512 BF16 or AMX, accumulating in float32 inside oneDNN).
//
// Layouts: the primitives run on NHWC activations (oneDNN's JIT kernels take them directly) and on
// weights in whatever blocked layout oneDNN prefers (format_tag::any). Outputs - y forward, grad_x
// backward - are made channels-last, so that a network's activations stay NHWC from the first
// convolution on and batch norm, ReLU, add and pooling run on them without reordering. An NCHW
// input (the images, or a gradient from an op that made one) is reordered to NHWC on the way in.
// Measured on crunet56's shapes (2 cores, AVX-512): NHWC through the whole network costs about the
// same as blocked 1x1 convolutions with a reorder on each side, is twice as fast for the grouped
// 3x3, and lets batch norm use oneDNN's vectorised NHWC kernel, 8x its NCHW one.
// Reordered copies live in a per-thread workspace that is reused, not reallocated, per call.
// Creating a primitive (JIT code generation) costs far more than running a small one, so each
// thread keeps the primitives and reorders it made, keyed by the convolution's geometry; a
// training step reuses them. One engine for the process, one stream per thread. Both backward
// passes of a channels-last pointwise convolution go to matrix products instead
// (conv2d_pointwise_matmul.h).
#if CRUNET_WITH_ONEDNN

#include "conv2d_onednn.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>

#include "conv2d_group_merge.h"
#include "conv2d_pointwise_matmul.h"
#include "crunet/core/error.h"
#include "onednn_context.h"

namespace crunet::ops::cpu::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

struct Context {
  dnnl::engine& engine;
  dnnl::stream& stream;
};

// The process's engine and this thread's stream (onednn_context.h); the primitive caches below
// are per thread as well.
Context context() { return {engine(), stream()}; }

// Everything a primitive depends on. x [n, c_in, h, w], weight [c_out, c_in/groups, k, k]; the
// layouts of the caller's x (or grad_x) and y (or grad_y) tensors, NHWC or NCHW.
struct Geometry {
  std::int64_t n, c_in, h, w, c_out, k, oh, ow, stride, padding, groups;
  bool bias;
  DType dtype = DType::Float32;
  bool src_nhwc = true, dst_nhwc = true;

  memory::data_type dt() const { return onednn::data_type(dtype); }

  using Key = std::array<std::int64_t, 11>;
  Key key() const {
    const std::int64_t flags = (bias ? 1 : 0) | (src_nhwc ? 2 : 0) | (dst_nhwc ? 4 : 0);
    return {n, c_in, h, w, c_out, k, stride, padding, groups, flags,
            static_cast<std::int64_t>(dtype)};
  }
  std::string str() const {
    return "x [" + std::to_string(n) + ", " + std::to_string(c_in) + ", " + std::to_string(h) +
           ", " + std::to_string(w) + "], weight [" + std::to_string(c_out) + ", " +
           std::to_string(c_in / groups) + ", " + std::to_string(k) + ", " + std::to_string(k) +
           "], stride " + std::to_string(stride) + ", padding " + std::to_string(padding) +
           ", groups " + std::to_string(groups) + ", " + dtype_name(dtype);
  }
};

Geometry make_geometry(const Shape& x, const Shape& weight, const Conv2dParams& params,
                       bool bias, DType dtype) {
  Geometry g{};
  g.dtype = dtype;
  g.n = x[0];
  g.c_in = x[1];
  g.h = x[2];
  g.w = x[3];
  g.c_out = weight[0];
  g.k = weight[2];
  g.oh = conv2d_output_size(g.h, g.k, params);
  g.ow = conv2d_output_size(g.w, g.k, params);
  g.stride = params.stride;
  g.padding = params.padding;
  g.groups = params.groups;
  g.bias = bias;
  return g;
}

memory::dims src_dims(const Geometry& g) { return {g.n, g.c_in, g.h, g.w}; }
memory::dims dst_dims(const Geometry& g) { return {g.n, g.c_out, g.oh, g.ow}; }
// Grouped weights are 5-D in oneDNN; [G, Cout/G, Cin/G, K, K] has the same memory as crunet's
// [Cout, Cin/G, K, K].
memory::dims weight_dims(const Geometry& g) {
  if (g.groups == 1) return {g.c_out, g.c_in, g.k, g.k};
  return {g.groups, g.c_out / g.groups, g.c_in / g.groups, g.k, g.k};
}
Tag weight_tag(const Geometry& g) { return g.groups == 1 ? Tag::oihw : Tag::goihw; }

Tag layout(bool nhwc) { return nhwc ? Tag::nhwc : Tag::nchw; }
memory::desc user_src(const Geometry& g) { return {src_dims(g), g.dt(), layout(g.src_nhwc)}; }
memory::desc user_dst(const Geometry& g) { return {dst_dims(g), g.dt(), layout(g.dst_nhwc)}; }
memory::desc user_weight(const Geometry& g) { return {weight_dims(g), g.dt(), weight_tag(g)}; }
memory::desc inner_src(const Geometry& g) { return {src_dims(g), g.dt(), Tag::nhwc}; }
memory::desc inner_dst(const Geometry& g) { return {dst_dims(g), g.dt(), Tag::nhwc}; }
memory::desc any_weight(const Geometry& g) { return {weight_dims(g), g.dt(), Tag::any}; }
memory::desc bias_desc(const Geometry& g) { return {{g.c_out}, g.dt(), Tag::x}; }

bool is_nhwc(const Tensor& t) { return t.memory_format() == MemoryFormat::ChannelsLast; }

// oneDNN checks (h + padding_l + padding_r - k) / stride + 1 == oh with floor division, which
// PyTorch's symmetric padding satisfies as is.
memory::dims strides(const Geometry& g) { return {g.stride, g.stride}; }
memory::dims paddings(const Geometry& g) { return {g.padding, g.padding}; }

dnnl::convolution_forward::primitive_desc forward_pd(const Geometry& g) {
  const memory::desc bias = g.bias ? bias_desc(g) : memory::desc();
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, inner_src(g),
      any_weight(g), bias, inner_dst(g), strides(g), paddings(g), paddings(g));
  return {desc, context().engine};
}

// One argument of a primitive: the user's plain layout, the layout the primitive chose, and the
// reorder between the two when they differ (user -> primitive for inputs, back for outputs).
struct Arg {
  memory::desc user;
  memory::desc inner;
  dnnl::reorder reorder;
  bool reordered = false;
};

Arg input_arg(const memory::desc& user, const memory::desc& inner) {
  Arg arg{user, inner, {}, user != inner};
  if (arg.reordered) {
    arg.reorder = dnnl::reorder({context().engine, user, context().engine, inner});
  }
  return arg;
}

Arg output_arg(const memory::desc& user, const memory::desc& inner) {
  Arg arg{user, inner, {}, user != inner};
  if (arg.reordered) {
    arg.reorder = dnnl::reorder({context().engine, inner, context().engine, user});
  }
  return arg;
}

// Per-thread scratch for the blocked copies of a call's inputs and output, reused from call to call.
// Fresh multi-megabyte buffers come from glibc as new pages, one page fault per 4 KiB, which costs
// more than the depthwise and grouped convolutions themselves (about 10x in bench/conv2d_bench).
// The price is that each thread keeps its largest blocked copies until it exits.
enum Slot { kFirstInput, kSecondInput, kOutput, kSlotCount };

class Workspace {
 public:
  void* get(Slot slot, std::size_t bytes) {
    Buffer& buffer = buffers_[slot];
    if (buffer.size < bytes) {
      const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
      void* data = std::aligned_alloc(kAlignment, rounded);
      if (data == nullptr) {
        throw RuntimeError("conv2d: out of memory allocating a " + std::to_string(bytes) +
                           "-byte oneDNN workspace");
      }
      buffer.data.reset(data);
      buffer.size = rounded;
    }
    return buffer.data.get();
  }

 private:
  static constexpr std::size_t kAlignment = 64;
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<void, Free> data;
    std::size_t size = 0;
  };
  std::array<Buffer, kSlotCount> buffers_;
};

Workspace& thread_workspace() {
  thread_local Workspace workspace;
  return workspace;
}

// The memory a primitive reads: the user's buffer itself, or a copy in the primitive's layout.
memory bind_input(const Arg& arg, const void* data, Slot slot) {
  const Context c = context();
  memory user(arg.user, c.engine, const_cast<void*>(data));
  if (!arg.reordered) return user;
  memory inner(arg.inner, c.engine, thread_workspace().get(slot, arg.inner.get_size()));
  arg.reorder.execute(c.stream, user, inner);
  return inner;
}

// The memory a primitive writes: the user's buffer, or scratch that finish_output reorders into it.
memory bind_output(const Arg& arg, void* data) {
  const Context c = context();
  if (!arg.reordered) return memory(arg.user, c.engine, data);
  return memory(arg.inner, c.engine, thread_workspace().get(kOutput, arg.inner.get_size()));
}

void finish_output(const Arg& arg, memory& inner, void* data) {
  if (!arg.reordered) return;
  const Context c = context();
  memory user(arg.user, c.engine, data);
  arg.reorder.execute(c.stream, inner, user);
}

struct ForwardEntry {
  dnnl::convolution_forward primitive;
  Arg src, weight, dst;
};

struct BackwardDataEntry {
  dnnl::convolution_backward_data primitive;
  Arg diff_dst, weight, diff_src;
};

struct BackwardWeightEntry {
  dnnl::convolution_backward_weights primitive;
  Arg src, diff_dst, diff_weight;
};

ForwardEntry make_forward(const Geometry& g) {
  const auto pd = forward_pd(g);
  return {dnnl::convolution_forward(pd), input_arg(user_src(g), pd.src_desc()),
          input_arg(user_weight(g), pd.weights_desc()), output_arg(user_dst(g), pd.dst_desc())};
}

BackwardDataEntry make_backward_data(const Geometry& g) {
  const dnnl::convolution_backward_data::desc desc(
      dnnl::algorithm::convolution_direct, inner_src(g), any_weight(g), inner_dst(g),
      strides(g), paddings(g), paddings(g));
  const dnnl::convolution_backward_data::primitive_desc pd(desc, context().engine, forward_pd(g));
  return {dnnl::convolution_backward_data(pd), input_arg(user_dst(g), pd.diff_dst_desc()),
          input_arg(user_weight(g), pd.weights_desc()),
          output_arg(user_src(g), pd.diff_src_desc())};
}

BackwardWeightEntry make_backward_weight(const Geometry& g) {
  const dnnl::convolution_backward_weights::desc desc(
      dnnl::algorithm::convolution_direct, inner_src(g), any_weight(g), inner_dst(g),
      strides(g), paddings(g), paddings(g));
  const dnnl::convolution_backward_weights::primitive_desc pd(desc, context().engine,
                                                              forward_pd(g));
  return {dnnl::convolution_backward_weights(pd), input_arg(user_src(g), pd.src_desc()),
          input_arg(user_dst(g), pd.diff_dst_desc()),
          output_arg(user_weight(g), pd.diff_weights_desc())};
}

// Per-thread caches: no locking, and a primitive is never run by two threads at once. A network
// has a few dozen distinct geometries; the bound only keeps a shape-sweeping program (a benchmark,
// variable image sizes) from growing without limit.
constexpr std::size_t kMaxCachedPerKind = 256;

template <typename Entry>
const Entry& cached(std::map<Geometry::Key, Entry>& cache, const Geometry& g,
                    Entry (*make)(const Geometry&)) {
  const Geometry::Key key = g.key();
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxCachedPerKind) cache.clear();
  return cache.emplace(key, make(g)).first->second;
}

struct Cache {
  std::map<Geometry::Key, ForwardEntry> forward;
  std::map<Geometry::Key, BackwardDataEntry> backward_data;
  std::map<Geometry::Key, BackwardWeightEntry> backward_weight;
  std::map<Geometry::Key, std::int64_t> forward_group_merge;  // see forward_group_merge below
};

Cache& thread_cache() {
  thread_local Cache cache;
  return cache;
}

// The oneDNN checker: its exceptions become crunet RuntimeErrors naming the pass and the geometry.
template <typename F>
auto checked(const char* pass, const Geometry& g, F&& body) {
  try {
    return body();
  } catch (const dnnl::error& e) {
    throw RuntimeError(std::string("conv2d ") + pass + ": oneDNN failed with status " +
                       std::to_string(static_cast<int>(e.status)) + " (" + e.what() + ") for " +
                       g.str());
  }
}

// x[:, :, ::stride, ::stride] as a channels-last tensor: the only pixels a 1x1 convolution with
// that stride (and no padding) reads.
Tensor subsample_nhwc(const Tensor& x, std::int64_t stride, std::int64_t oh, std::int64_t ow) {
  const Tensor nhwc = x.contiguous(MemoryFormat::ChannelsLast);
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = empty({n, c, oh, ow}, TensorOptions(x.dtype()), MemoryFormat::ChannelsLast);
  const std::size_t pixel = static_cast<std::size_t>(c) * dtype_size(x.dtype());
  const auto* from = static_cast<const std::uint8_t*>(nhwc.data_ptr());
  auto* to = static_cast<std::uint8_t*>(out.data_ptr());
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t i = 0; i < oh; ++i) {
      for (std::int64_t j = 0; j < ow; ++j) {
        std::memcpy(to + static_cast<std::size_t>((b * oh + i) * ow + j) * pixel,
                    from + static_cast<std::size_t>((b * h + i * stride) * w + j * stride) * pixel,
                    pixel);
      }
    }
  }
  return out;
}

// oneDNN's im2col + gemm forward ("gemm:jit", "x64:gemm:jit") or its reference loops; brgemm
// ("brgemm:avx512_core_amx") is a JIT kernel.
bool is_gemm_fallback(const Geometry& g) {
  const std::string implementation = forward_pd(g).impl_info_str();
  return implementation.rfind("gemm:", 0) == 0 ||
         implementation.find(":gemm:") != std::string::npos || implementation.rfind("ref", 0) == 0;
}

// How many neighbouring groups the forward merges into one (conv2d_group_merge.h): 1, or the
// smallest of 2 and 4 whose merged groups get one of oneDNN's JIT kernels instead of its im2col +
// gemm fallback. oneDNN 2.6 has no JIT NHWC forward for groups narrower than its vector (4
// channels on AVX2: the first stage of ResNeXt and CRU-Net), and the fallback ran that shape at
// about 6 GFLOP/s (37 ms of a 714 ms crunet56 inference batch of 8 on an AMD EPYC Zen 3); its
// backward kernels take the narrow groups as they are. Asked of oneDNN once per geometry, so the
// choice follows the CPU it runs on. CRUNET_CPU_GROUP_MERGE=off turns it off (for comparisons).
std::int64_t choose_group_merge(const Geometry& g) {
  if (!is_gemm_fallback(g)) return 1;
  for (const std::int64_t m : {2, 4}) {
    if (g.groups % m != 0) break;
    Geometry merged = g;
    merged.groups = g.groups / m;
    if (!is_gemm_fallback(merged)) return m;
  }
  return 1;
}

std::int64_t forward_group_merge(const Geometry& g) {
  static const bool off = [] {
    const char* value = std::getenv("CRUNET_CPU_GROUP_MERGE");
    return value != nullptr && std::strcmp(value, "off") == 0;
  }();
  if (off || g.groups == 1) return 1;
  return cached(thread_cache().forward_group_merge, g, choose_group_merge);
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params) {
  Geometry g = make_geometry(x.shape(), weight.shape(), params, bias.defined(), x.dtype());
  g.src_nhwc = is_nhwc(x);
  const std::int64_t merge = checked("forward", g, [&] { return forward_group_merge(g); });
  if (merge > 1) {
    Conv2dParams merged = params;
    merged.groups = params.groups / merge;
    return conv2d_forward(x, merge_group_weight(weight, params.groups, merge), bias, merged);
  }
  return checked("forward", g, [&] {
    const ForwardEntry& entry = cached(thread_cache().forward, g, make_forward);
    Tensor y = empty({g.n, g.c_out, g.oh, g.ow}, TensorOptions(g.dtype), MemoryFormat::ChannelsLast);
    const Context c = context();
    memory src = bind_input(entry.src, x.data_ptr(), kFirstInput);
    memory wei = bind_input(entry.weight, weight.data_ptr(), kSecondInput);
    memory dst = bind_output(entry.dst, y.data_ptr());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (g.bias) args.emplace(DNNL_ARG_BIAS, memory(bias_desc(g), c.engine, bias.data_ptr()));
    entry.primitive.execute(c.stream, args);
    finish_output(entry.dst, dst, y.data_ptr());
    c.stream.wait();
    return y;
  });
}

Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params) {
  if (pointwise_backward_data_by_matmul(weight.shape(), params, grad_y)) {
    return pointwise_backward_data(grad_y, weight, x_shape);
  }
  Geometry g = make_geometry(x_shape, weight.shape(), params, false, grad_y.dtype());
  g.dst_nhwc = is_nhwc(grad_y);
  return checked("backward data", g, [&] {
    const BackwardDataEntry& entry = cached(thread_cache().backward_data, g, make_backward_data);
    Tensor grad_x = empty(x_shape, TensorOptions(g.dtype), MemoryFormat::ChannelsLast);
    const Context c = context();
    memory diff_dst = bind_input(entry.diff_dst, grad_y.data_ptr(), kFirstInput);
    memory wei = bind_input(entry.weight, weight.data_ptr(), kSecondInput);
    memory diff_src = bind_output(entry.diff_src, grad_x.data_ptr());
    entry.primitive.execute(c.stream, {{DNNL_ARG_DIFF_DST, diff_dst},
                                       {DNNL_ARG_WEIGHTS, wei},
                                       {DNNL_ARG_DIFF_SRC, diff_src}});
    finish_output(entry.diff_src, diff_src, grad_x.data_ptr());
    c.stream.wait();
    return grad_x;
  });
}

Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params) {
  if (pointwise_backward_weight_by_matmul(weight_shape, params, grad_y, x)) {
    return pointwise_backward_weight(grad_y, x, weight_shape);
  }
  Geometry g = make_geometry(x.shape(), weight_shape, params, false, x.dtype());
  if (g.k == 1 && g.stride > 1 && g.padding == 0) {
    // oneDNN 2.6's strided 1x1 backward-weights kernel (jit_1x1 with its reduce-to-unit-stride
    // copy) writes past its buffers for some shapes (x [1, 3, 10, 6], 4 outputs, stride 2 on
    // AVX2: a wrong gradient, then a corrupted heap). The same gradient is the stride-1 one of the
    // pixels the convolution reads, so gather those and run that.
    Conv2dParams unit = params;
    unit.stride = 1;
    return conv2d_backward_weight(grad_y, subsample_nhwc(x, g.stride, g.oh, g.ow), weight_shape,
                                  unit);
  }
  g.src_nhwc = is_nhwc(x);
  g.dst_nhwc = is_nhwc(grad_y);
  return checked("backward weight", g, [&] {
    const BackwardWeightEntry& entry =
        cached(thread_cache().backward_weight, g, make_backward_weight);
    Tensor grad_w = empty(weight_shape, TensorOptions(g.dtype));
    const Context c = context();
    memory src = bind_input(entry.src, x.data_ptr(), kFirstInput);
    memory diff_dst = bind_input(entry.diff_dst, grad_y.data_ptr(), kSecondInput);
    memory diff_wei = bind_output(entry.diff_weight, grad_w.data_ptr());
    entry.primitive.execute(c.stream, {{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_DIFF_DST, diff_dst},
                                       {DNNL_ARG_DIFF_WEIGHTS, diff_wei}});
    finish_output(entry.diff_weight, diff_wei, grad_w.data_ptr());
    c.stream.wait();
    return grad_w;
  });
}

std::size_t cached_primitive_count() {
  const Cache& cache = thread_cache();
  return cache.forward.size() + cache.backward_data.size() + cache.backward_weight.size();
}

}  // namespace crunet::ops::cpu::onednn

#endif  // CRUNET_WITH_ONEDNN
