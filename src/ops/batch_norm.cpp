#include "crunet/ops/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "batch_norm_backend.h"
#include "crunet/autograd/node.h"
#include "crunet/ops/relu.h"
#include "op_checks.h"

namespace crunet::ops {
namespace {

BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps) {
  if (x.device().is_cpu()) {
    return cpu::batch_norm_forward_training(x, weight, bias, running_mean, running_var, momentum,
                                            eps);
  }
#if CRUNET_WITH_CUDA
  return cuda::batch_norm_forward_training(x, weight, bias, running_mean, running_var, momentum,
                                           eps);
#else
  fail_no_backend("batch_norm", x.device());
#endif
}

Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps) {
  if (x.device().is_cpu()) {
    return cpu::batch_norm_forward_eval(x, weight, bias, running_mean, running_var, eps);
  }
#if CRUNET_WITH_CUDA
  return cuda::batch_norm_forward_eval(x, weight, bias, running_mean, running_var, eps);
#else
  fail_no_backend("batch_norm", x.device());
#endif
}

BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b) {
  if (grad_y.device().is_cpu()) {
    return cpu::batch_norm_backward(grad_y, x, weight, mean, var, eps, training, need_x, need_w,
                                    need_b);
  }
#if CRUNET_WITH_CUDA
  return cuda::batch_norm_backward(grad_y, x, weight, mean, var, eps, training, need_x, need_w,
                                   need_b);
#else
  fail_no_backend("batch_norm backward", grad_y.device());
#endif
}

// weight / bias: x's device, shape [C]; x's dtype, or float32 for a bfloat16 x (the bfloat16
// precision mode keeps the affine parameters, like the running statistics, in float32).
void check_affine(const Tensor& x, const Tensor& t, const char* name) {
  if (!t.defined()) return;
  check_same_device("batch_norm", x, "x", t, name);
  if (!(x.dtype() == DType::BFloat16 && t.dtype() == DType::Float32)) {
    check_same_dtype("batch_norm", x, "x", t, name);
  }
  if (t.shape() != Shape{x.size(1)}) {
    fail("batch_norm", std::string(name) + " has shape " + shape_str(t.shape()) +
                           " but x has shape " + shape_str(x.shape()) + " (expected [" +
                           std::to_string(x.size(1)) + "], one value per channel)");
  }
}

// running_mean / running_var: float32 [C] on x's device, contiguous (they are updated in place).
void check_running(const Tensor& x, const Tensor& t, const char* name) {
  check_same_device("batch_norm", x, "x", t, name);
  check_dtype("batch_norm", t, name, DType::Float32);
  if (t.shape() != Shape{x.size(1)}) {
    fail("batch_norm", std::string(name) + " has shape " + shape_str(t.shape()) +
                           " but x has shape " + shape_str(x.shape()) + " (expected [" +
                           std::to_string(x.size(1)) + "], one value per channel)");
  }
  if (!t.is_contiguous()) fail("batch_norm", std::string(name) + " must be contiguous");
}

void check_call(const Tensor& x, const Tensor& weight, const Tensor& bias,
                const Tensor& running_mean, const Tensor& running_var,
                const BatchNormParams& params) {
  check_rank("batch_norm", x, "x", 4);
  check_floating("batch_norm", x, "x");
  check_affine(x, weight, "weight");
  check_affine(x, bias, "bias");
  if (running_mean.defined() != running_var.defined()) {
    fail("batch_norm", "running_mean and running_var must be both defined or both undefined");
  }
  const bool has_running = running_mean.defined();
  if (has_running) {
    check_running(x, running_mean, "running_mean");
    check_running(x, running_var, "running_var");
  }
  if (!params.training && !has_running) {
    fail("batch_norm",
         "evaluation mode needs running_mean and running_var; x has shape " + shape_str(x.shape()));
  }
  if (!(params.eps >= 0.0f) || !std::isfinite(params.eps)) {
    fail("batch_norm", "eps must be finite and >= 0, got " + std::to_string(params.eps));
  }
  if (params.training && x.numel() / std::max<std::int64_t>(x.size(1), 1) <= 1) {
    fail("batch_norm",
         "training needs more than one value per channel, x has shape " + shape_str(x.shape()));
  }
}

// The CPU's fused form: one oneDNN pass forward, and the backward applies the ReLU's recorded
// mask inside batch norm's own backward. Evaluation mode with gradients is left to the pair.
Tensor fused_batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& running_mean, const Tensor& running_var,
                             const BatchNormParams& params) {
  const Tensor xc = backend_layout(x);
  const Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  if (!params.training) {
    return cpu::batch_norm_relu_forward_eval(xc, wc, bc, running_mean, running_var, params.eps);
  }
  BatchNormForward out = cpu::batch_norm_relu_forward_training(
      xc, wc, bc, running_mean, running_var, params.momentum, params.eps);
  if (autograd::needs_grad({x, weight, bias})) {
    const bool need_x = x.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    autograd::record("batch_norm_relu", out.y, {x, weight, bias},
                     [need_x, need_w, need_b, eps = params.eps, saved_x = xc.detach(),
                      saved_w = wc.defined() ? wc.detach() : Tensor(), mean = out.mean,
                      var = out.var, mask = out.relu_mask](const Tensor& grad) {
                       BatchNormGrads g =
                           cpu::batch_norm_relu_backward(backend_layout(grad), saved_x, saved_w,
                                                         mean, var, mask, eps, need_x, need_w,
                                                         need_b);
                       return std::vector<Tensor>{g.x, g.weight, g.bias};
                     });
  }
  return out.y;
}

}  // namespace

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var,
                       const BatchNormParams& params) {
  check_call(x, weight, bias, running_mean, running_var, params);
  const bool fusable = x.device().is_cpu() &&
                       (x.dtype() == DType::Float32 || x.dtype() == DType::BFloat16) &&
                       cpu::has_fused_batch_norm_relu() &&
                       (params.training || !autograd::needs_grad({x, weight, bias}));
  if (!fusable) return relu(batch_norm(x, weight, bias, running_mean, running_var, params));
  return fused_batch_norm_relu(x, weight, bias, running_mean, running_var, params);
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormParams& params) {
  check_call(x, weight, bias, running_mean, running_var, params);
  const Tensor xc = backend_layout(x);
  const Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y, mean, var;
  if (params.training) {
    BatchNormForward out = batch_norm_forward_training(xc, wc, bc, running_mean, running_var,
                                                       params.momentum, params.eps);
    y = std::move(out.y);
    mean = std::move(out.mean);
    var = std::move(out.var);
  } else {
    y = batch_norm_forward_eval(xc, wc, bc, running_mean, running_var, params.eps);
  }

  if (autograd::needs_grad({x, weight, bias})) {
    const bool need_x = x.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    const bool keep_x = need_x || need_w;
    if (!params.training && keep_x) {
      // The running statistics change in place at the next training step; keep their values now.
      mean = running_mean.clone();
      var = running_var.clone();
    }
    autograd::record("batch_norm", y, {x, weight, bias},
                     [need_x, need_w, need_b, training = params.training, eps = params.eps,
                      saved_x = keep_x ? xc.detach() : Tensor(),
                      saved_w = need_x && wc.defined() ? wc.detach() : Tensor(),
                      saved_mean = keep_x ? mean : Tensor(),
                      saved_var = keep_x ? var : Tensor()](const Tensor& grad) {
                       BatchNormGrads g =
                           batch_norm_backward(backend_layout(grad), saved_x, saved_w, saved_mean,
                                               saved_var, eps, training, need_x, need_w, need_b);
                       return std::vector<Tensor>{g.x, g.weight, g.bias};
                     });
  }
  return y;
}

}  // namespace crunet::ops
