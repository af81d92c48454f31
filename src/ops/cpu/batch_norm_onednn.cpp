// batch_norm on the CPU: oneDNN's batch_normalization primitives on NCHW or channels-last memory
// (y and grad_x in x's layout) when the build has oneDNN, the plain loops of
// batch_norm_reference.cpp on NCHW otherwise. oneDNN's NHWC kernel vectorises across channels and
// is about 8x its NCHW one on crunet56's shapes, which is one reason the convolutions return NHWC.
// Weight and bias always go in as oneDNN's scale and shift (ones and zeros when absent), so one
// primitive serves every case; oneDNN returns the biased batch variance, which is what the backward
// needs. x may be bfloat16 (oneDNN build only): y and grad_x are then bfloat16 too, while weight,
// bias, the statistics and their gradients stay float32, computed in float32 inside oneDNN.
#include "../batch_norm_backend.h"
#include "../cast_backend.h"
#include "../op_checks.h"
#include "batch_norm_reference.h"

#if CRUNET_WITH_ONEDNN
#include <tuple>
#include <unordered_map>

#include "onednn_context.h"
#endif

namespace crunet::ops::cpu {

#if CRUNET_WITH_ONEDNN
namespace {

namespace dn = onednn;
using dnnl::batch_normalization_backward;
using dnnl::batch_normalization_forward;
using dnnl::normalization_flags;
using dnnl::prop_kind;

enum class Pass { kForwardTraining, kForwardEval, kBackwardTraining, kBackwardEval };
// N, C, H, W, layout, type, eps, pass, ReLU fused.
using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, MemoryFormat, DType,
                       float, Pass, bool>;

// The tensor whose layout every argument of one call shares.
struct Data {
  Shape shape;
  MemoryFormat format;
  DType dtype;
  explicit Data(const Tensor& x) : shape(x.shape()), format(x.memory_format()), dtype(x.dtype()) {}
  dnnl::memory::desc desc() const { return dn::activation(shape, format, dtype); }
};

Key make_key(const Data& d, float eps, Pass pass, bool relu) {
  return Key{d.shape[0], d.shape[1], d.shape[2], d.shape[3], d.format, d.dtype, eps, pass, relu};
}

// fuse_norm_relu: y = max(0, batch_norm(x)) in the same pass; the training forward then also
// writes a workspace recording where y > 0, which the backward applies to grad_y.
normalization_flags flags(bool global_stats, bool relu) {
  normalization_flags f = normalization_flags::use_scale | normalization_flags::use_shift;
  if (global_stats) f = f | normalization_flags::use_global_stats;
  if (relu) f = f | normalization_flags::fuse_norm_relu;
  return f;
}

batch_normalization_forward::primitive_desc forward_pd(const Data& data, float eps,
                                                       bool global_stats, bool relu,
                                                       prop_kind kind) {
  return batch_normalization_forward::primitive_desc(
      batch_normalization_forward::desc(kind, data.desc(), eps, flags(global_stats, relu)),
      dn::engine());
}

struct ForwardEntry {
  dnnl::primitive primitive;
  dnnl::memory::desc workspace;  // the fused ReLU's mask in training; empty otherwise
};

ForwardEntry forward_entry(const Data& data, float eps, bool training, bool relu) {
  static dn::PrimitiveCache<Key, ForwardEntry> cache;
  return cache.get(
      make_key(data, eps, training ? Pass::kForwardTraining : Pass::kForwardEval, relu), [&] {
        const auto pd = training ? forward_pd(data, eps, false, relu, prop_kind::forward_training)
                                 : forward_pd(data, eps, true, relu, prop_kind::forward_inference);
        return ForwardEntry{batch_normalization_forward(pd), pd.workspace_desc()};
      });
}

dnnl::primitive backward_primitive(const Data& data, float eps, bool training, bool relu) {
  static dn::PrimitiveCache<Key, dnnl::primitive> cache;
  return cache.get(
      make_key(data, eps, training ? Pass::kBackwardTraining : Pass::kBackwardEval, relu), [&] {
        const bool global_stats = !training;
        const auto hint = forward_pd(data, eps, global_stats, relu, prop_kind::forward_training);
        return batch_normalization_backward(batch_normalization_backward::primitive_desc(
            batch_normalization_backward::desc(prop_kind::backward, data.desc(), data.desc(), eps,
                                               flags(global_stats, relu)),
            dn::engine(), hint));
      });
}

Tensor or_filled(const Tensor& t, std::int64_t channels, double value) {
  return t.defined() ? t : full({channels}, value);
}

BatchNormForward forward_training(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var,
                                  float momentum, float eps, bool relu) {
  check_cpu_compute_dtype("batch_norm", x, "x");
  const std::int64_t channels = x.size(1);
  BatchNormForward out{empty_like(x), empty({channels}), empty({channels}), Tensor()};
  const Tensor scale = or_filled(weight, channels, 1.0), shift = or_filled(bias, channels, 0.0);
  dn::checked("batch_norm", [&] {
    const Data layout(x);
    const auto data = layout.desc();
    const auto stat = dn::vector_f32(channels);
    const ForwardEntry entry = forward_entry(layout, eps, true, relu);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, dn::wrap(data, x)},         {DNNL_ARG_DST, dn::wrap(data, out.y)},
        {DNNL_ARG_SCALE, dn::wrap(stat, scale)},   {DNNL_ARG_SHIFT, dn::wrap(stat, shift)},
        {DNNL_ARG_MEAN, dn::wrap(stat, out.mean)}, {DNNL_ARG_VARIANCE, dn::wrap(stat, out.var)}};
    if (relu) {
      out.relu_mask = dn::workspace_tensor(entry.workspace);
      args.emplace(DNNL_ARG_WORKSPACE, dn::wrap(entry.workspace, out.relu_mask));
    }
    entry.primitive.execute(dn::stream(), args);
    dn::stream().wait();
  });
  reference::update_running_stats(running_mean, running_var, out.mean, out.var,
                                  x.numel() / channels, momentum);
  return out;
}

Tensor forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& running_mean, const Tensor& running_var, float eps, bool relu) {
  check_cpu_compute_dtype("batch_norm", x, "x");
  const std::int64_t channels = x.size(1);
  Tensor y = empty_like(x);
  const Tensor scale = or_filled(weight, channels, 1.0), shift = or_filled(bias, channels, 0.0);
  dn::checked("batch_norm", [&] {
    const Data layout(x);
    const auto data = layout.desc();
    const auto stat = dn::vector_f32(channels);
    forward_entry(layout, eps, false, relu)
        .primitive.execute(dn::stream(), {{DNNL_ARG_SRC, dn::wrap(data, x)},
                                          {DNNL_ARG_DST, dn::wrap(data, y)},
                                          {DNNL_ARG_SCALE, dn::wrap(stat, scale)},
                                          {DNNL_ARG_SHIFT, dn::wrap(stat, shift)},
                                          {DNNL_ARG_MEAN, dn::wrap(stat, running_mean)},
                                          {DNNL_ARG_VARIANCE, dn::wrap(stat, running_var)}});
    dn::stream().wait();
  });
  return y;
}

// relu_mask: the fused training forward's workspace, or undefined for plain batch norm.
BatchNormGrads backward(const Tensor& grad_y_any_layout, const Tensor& x, const Tensor& weight,
                        const Tensor& mean, const Tensor& var, const Tensor& relu_mask, float eps,
                        bool training, bool need_x, bool need_w, bool need_b) {
  const bool relu = relu_mask.defined();
  if (!need_x && !need_w && !relu) {
    // Only the bias: a sum of grad_y per channel, which needs neither x nor the statistics (x may
    // not even be saved); a bfloat16 grad_y is summed in float32.
    Tensor grad_y = grad_y_any_layout.contiguous();
    if (grad_y.dtype() == DType::BFloat16) grad_y = cast(grad_y, DType::Float32);
    return reference::batch_norm_backward(grad_y, x, weight, mean, var, eps, training, false, false,
                                          need_b);
  }
  // One primitive reads x, grad_y and writes grad_x in one layout: x's.
  const Tensor grad_y = grad_y_any_layout.contiguous(x.memory_format());
  const std::int64_t channels = grad_y.size(1);
  Tensor grad_x = empty_like(x);
  Tensor grad_w = empty({channels}), grad_b = empty({channels});
  // oneDNN 2.6 asks for the shift too, though the backward does not depend on it.
  const Tensor scale = or_filled(weight, channels, 1.0), shift = zeros({channels});
  dn::checked("batch_norm backward", [&] {
    const Data layout(x);
    const auto data = layout.desc();
    const auto stat = dn::vector_f32(channels);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dn::wrap(data, x)},
                                               {DNNL_ARG_DIFF_DST, dn::wrap(data, grad_y)},
                                               {DNNL_ARG_MEAN, dn::wrap(stat, mean)},
                                               {DNNL_ARG_VARIANCE, dn::wrap(stat, var)},
                                               {DNNL_ARG_SCALE, dn::wrap(stat, scale)},
                                               {DNNL_ARG_SHIFT, dn::wrap(stat, shift)},
                                               {DNNL_ARG_DIFF_SRC, dn::wrap(data, grad_x)},
                                               {DNNL_ARG_DIFF_SCALE, dn::wrap(stat, grad_w)},
                                               {DNNL_ARG_DIFF_SHIFT, dn::wrap(stat, grad_b)}};
    if (relu) {
      const auto workspace = forward_entry(layout, eps, true, true).workspace;
      args.emplace(DNNL_ARG_WORKSPACE, dn::wrap(workspace, relu_mask));
    }
    backward_primitive(layout, eps, training, relu).execute(dn::stream(), args);
    dn::stream().wait();
  });
  BatchNormGrads grads;
  if (need_x) grads.x = grad_x;
  if (need_w) grads.weight = grad_w;
  if (need_b) grads.bias = grad_b;
  return grads;
}

}  // namespace

BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps) {
  return forward_training(x, weight, bias, running_mean, running_var, momentum, eps, false);
}

Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps) {
  return forward_eval(x, weight, bias, running_mean, running_var, eps, false);
}

BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b) {
  return backward(grad_y, x, weight, mean, var, Tensor(), eps, training, need_x, need_w, need_b);
}

bool has_fused_batch_norm_relu() { return true; }

BatchNormForward batch_norm_relu_forward_training(const Tensor& x, const Tensor& weight,
                                                  const Tensor& bias, const Tensor& running_mean,
                                                  const Tensor& running_var, float momentum,
                                                  float eps) {
  return forward_training(x, weight, bias, running_mean, running_var, momentum, eps, true);
}

Tensor batch_norm_relu_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                    const Tensor& running_mean, const Tensor& running_var,
                                    float eps) {
  return forward_eval(x, weight, bias, running_mean, running_var, eps, true);
}

BatchNormGrads batch_norm_relu_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                        const Tensor& mean, const Tensor& var,
                                        const Tensor& relu_mask, float eps, bool need_x,
                                        bool need_w, bool need_b) {
  return backward(grad_y, x, weight, mean, var, relu_mask, eps, true, need_x, need_w, need_b);
}

#else  // CRUNET_WITH_ONEDNN

BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps) {
  return reference::batch_norm_forward_training(x.contiguous(), weight, bias, running_mean,
                                                running_var, momentum, eps);
}

Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps) {
  return reference::batch_norm_forward_eval(x.contiguous(), weight, bias, running_mean, running_var,
                                            eps);
}

BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b) {
  return reference::batch_norm_backward(grad_y.contiguous(), x.contiguous(), weight, mean, var, eps,
                                        training, need_x, need_w, need_b);
}

bool has_fused_batch_norm_relu() { return false; }

// Never called: the dispatcher composes batch_norm and relu where has_fused_batch_norm_relu() is
// false.
BatchNormForward batch_norm_relu_forward_training(const Tensor&, const Tensor&, const Tensor&,
                                                  const Tensor&, const Tensor&, float, float) {
  throw NotImplementedError("batch_norm_relu: no fused CPU path in a build without oneDNN");
}

Tensor batch_norm_relu_forward_eval(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                    const Tensor&, float) {
  throw NotImplementedError("batch_norm_relu: no fused CPU path in a build without oneDNN");
}

BatchNormGrads batch_norm_relu_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                        const Tensor&, const Tensor&, float, bool, bool, bool) {
  throw NotImplementedError("batch_norm_relu: no fused CPU path in a build without oneDNN");
}

#endif  // CRUNET_WITH_ONEDNN

}  // namespace crunet::ops::cpu
