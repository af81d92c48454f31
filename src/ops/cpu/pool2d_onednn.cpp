// 2-d max and average pooling on the CPU: oneDNN's pooling primitives (pooling_max,
// pooling_avg_exclude_padding) on NCHW or channels-last memory (y and grad_x in x's layout) when
// the build has oneDNN, the plain loops of pool2d_reference.cpp otherwise. oneDNN's right padding
// is given as `padding` too: its output size is then floor((H + 2p - k) / s) + 1, PyTorch's floor
// mode, and windows are clipped to the input. Max pooling keeps oneDNN's workspace (the argmax
// within each window) for its backward.
#include "../op_checks.h"
#include "../pool2d_backend.h"
#include "pool2d_reference.h"

#if CRUNET_WITH_ONEDNN
#include <tuple>
#include <unordered_map>

#include "onednn_context.h"
#endif

namespace crunet::ops::cpu {

#if CRUNET_WITH_ONEDNN
namespace {

namespace dn = onednn;
using dnnl::algorithm;
using dnnl::pooling_backward;
using dnnl::pooling_forward;
using dnnl::prop_kind;

// N, C, H, W, layout, kernel, stride, padding, algorithm, prop_kind (forward ones or backward).
using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, MemoryFormat, DType,
                       std::int64_t, std::int64_t, std::int64_t, algorithm, prop_kind>;

struct Entry {
  dnnl::primitive primitive;
  dnnl::memory::desc workspace;  // empty where none is used
};

struct Geometry {
  Shape x_shape, y_shape;
  MemoryFormat format;  // of x, y and their gradients
  DType dtype;          // float32 or bfloat16, the same for all four
  dnnl::memory::desc x, y;
  dnnl::memory::dims strides, kernel, padding;
  Geometry(const Shape& x_shape_, MemoryFormat format_, DType dtype_, const Pool2dParams& p)
      : x_shape(x_shape_),
        y_shape{x_shape[0], x_shape[1], pool2d_output_size(x_shape[2], p),
                pool2d_output_size(x_shape[3], p)},
        format(format_),
        dtype(dtype_),
        x(dn::activation(x_shape, format, dtype)),
        y(dn::activation(y_shape, format, dtype)),
        strides{p.stride, p.stride},
        kernel{p.kernel, p.kernel},
        padding{p.padding, p.padding} {}
};

Key make_key(const Geometry& g, const Pool2dParams& p, algorithm alg, prop_kind kind) {
  const Shape& s = g.x_shape;
  return Key{s[0], s[1], s[2], s[3], g.format, g.dtype, p.kernel, p.stride, p.padding, alg, kind};
}

pooling_forward::primitive_desc forward_pd(const Geometry& g, algorithm alg, prop_kind kind) {
  return pooling_forward::primitive_desc(
      pooling_forward::desc(kind, alg, g.x, g.y, g.strides, g.kernel, g.padding, g.padding),
      dn::engine());
}

Entry forward_entry(const Geometry& g, const Pool2dParams& params, algorithm alg, prop_kind kind) {
  static dn::PrimitiveCache<Key, Entry> cache;
  return cache.get(make_key(g, params, alg, kind), [&] {
    const auto pd = forward_pd(g, alg, kind);
    return Entry{pooling_forward(pd), pd.workspace_desc()};
  });
}

Entry backward_entry(const Geometry& g, const Pool2dParams& params, algorithm alg) {
  static dn::PrimitiveCache<Key, Entry> cache;
  return cache.get(make_key(g, params, alg, prop_kind::backward), [&] {
    const auto hint = forward_pd(g, alg, prop_kind::forward_training);
    const pooling_backward::primitive_desc pd(
        pooling_backward::desc(alg, g.x, g.y, g.strides, g.kernel, g.padding, g.padding),
        dn::engine(), hint);
    return Entry{pooling_backward(pd), pd.workspace_desc()};
  });
}

}  // namespace

MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params,
                                    bool for_backward) {
  check_cpu_compute_dtype("max_pool2d", x, "x");
  const Geometry g(x.shape(), x.memory_format(), x.dtype(), params);
  const prop_kind kind = for_backward ? prop_kind::forward_training : prop_kind::forward_inference;
  const Entry entry = forward_entry(g, params, algorithm::pooling_max, kind);
  MaxPool2dForward out;
  out.y = empty(g.y_shape, TensorOptions(g.dtype), g.format);
  if (for_backward) out.saved = dn::workspace_tensor(entry.workspace);
  dn::checked("max_pool2d", [&] {
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dn::wrap(g.x, x)},
                                               {DNNL_ARG_DST, dn::wrap(g.y, out.y)}};
    if (for_backward) args.emplace(DNNL_ARG_WORKSPACE, dn::wrap(entry.workspace, out.saved));
    entry.primitive.execute(dn::stream(), args);
    dn::stream().wait();
  });
  return out;
}

Tensor max_pool2d_backward(const Tensor& grad_y_any_layout, const Tensor& saved,
                           const Shape& x_shape, MemoryFormat x_format,
                           const Pool2dParams& params) {
  const Geometry g(x_shape, x_format, grad_y_any_layout.dtype(), params);
  const Entry entry = backward_entry(g, params, algorithm::pooling_max);
  const Tensor grad_y = grad_y_any_layout.contiguous(x_format);
  Tensor grad_x = empty(x_shape, TensorOptions(g.dtype), x_format);
  dn::checked("max_pool2d backward", [&] {
    entry.primitive.execute(dn::stream(), {{DNNL_ARG_DIFF_DST, dn::wrap(g.y, grad_y)},
                                           {DNNL_ARG_WORKSPACE, dn::wrap(entry.workspace, saved)},
                                           {DNNL_ARG_DIFF_SRC, dn::wrap(g.x, grad_x)}});
    dn::stream().wait();
  });
  return grad_x;
}

Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params) {
  check_cpu_compute_dtype("avg_pool2d", x, "x");
  const Geometry g(x.shape(), x.memory_format(), x.dtype(), params);
  const Entry entry = forward_entry(g, params, algorithm::pooling_avg_exclude_padding,
                                    prop_kind::forward_inference);
  Tensor y = empty(g.y_shape, TensorOptions(g.dtype), g.format);
  dn::checked("avg_pool2d", [&] {
    entry.primitive.execute(dn::stream(),
                            {{DNNL_ARG_SRC, dn::wrap(g.x, x)}, {DNNL_ARG_DST, dn::wrap(g.y, y)}});
    dn::stream().wait();
  });
  return y;
}

Tensor avg_pool2d_backward(const Tensor& grad_y_any_layout, const Shape& x_shape,
                           MemoryFormat x_format, const Pool2dParams& params) {
  const Geometry g(x_shape, x_format, grad_y_any_layout.dtype(), params);
  const Entry entry = backward_entry(g, params, algorithm::pooling_avg_exclude_padding);
  const Tensor grad_y = grad_y_any_layout.contiguous(x_format);
  Tensor grad_x = empty(x_shape, TensorOptions(g.dtype), x_format);
  dn::checked("avg_pool2d backward", [&] {
    entry.primitive.execute(dn::stream(), {{DNNL_ARG_DIFF_DST, dn::wrap(g.y, grad_y)},
                                           {DNNL_ARG_DIFF_SRC, dn::wrap(g.x, grad_x)}});
    dn::stream().wait();
  });
  return grad_x;
}

#else  // CRUNET_WITH_ONEDNN

MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params,
                                    bool for_backward) {
  return reference::max_pool2d_forward(x.contiguous(), params, for_backward);
}

// The reference works in NCHW whatever the layouts were.
Tensor max_pool2d_backward(const Tensor& grad_y, const Tensor& saved, const Shape& x_shape,
                           MemoryFormat, const Pool2dParams& params) {
  return reference::max_pool2d_backward(grad_y.contiguous(), saved, x_shape, params);
}

Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params) {
  return reference::avg_pool2d_forward(x.contiguous(), params);
}

Tensor avg_pool2d_backward(const Tensor& grad_y, const Shape& x_shape, MemoryFormat,
                           const Pool2dParams& params) {
  return reference::avg_pool2d_backward(grad_y.contiguous(), x_shape, params);
}

#endif  // CRUNET_WITH_ONEDNN

}  // namespace crunet::ops::cpu
