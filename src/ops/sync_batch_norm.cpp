// Synchronised batch norm, built on batch_norm's backend entries so that it runs on every device
// that batch_norm does; only the per-channel statistics cross processes (as float64 on the host).
//
// Forward, per channel, with this process's m values, batch mean mu_p and biased variance v_p:
//   one sum over processes of [m, m mu_p, m v_p, m mu_p^2] gives the global count M, the global
//   mean mu = sum(m mu_p) / M and the global variance (sum(m v_p) + sum(m mu_p^2) - M mu^2) / M.
//   Splitting the sum of squares into the within-process part (m v_p) and the between-process part
//   keeps the subtraction harmless: it cancels only the between-process spread, in float64.
//   y is then the evaluation-mode batch norm with (mu, var) in place of the running statistics.
// Backward, with xhat = (x - mu) * invstd and the global sums GB = sum(dy), GW = sum(dy * xhat):
//   grad_x = w * invstd * (dy - GB / M - xhat * GW / M); the bracket's subtracted term is itself an
//   evaluation-mode batch norm of x with weight GW / M and bias GB / M, so the backend computes it.
#include "crunet/ops/sync_batch_norm.h"

#include <algorithm>
#include <cmath>

#include "batch_norm_backend.h"
#include "crunet/autograd/node.h"
#include "crunet/core/elementwise.h"
#include "op_checks.h"

namespace crunet::ops {
namespace {

BatchNormForward local_statistics(const Tensor& x, float eps) {
  // The backend's training forward without affine and running statistics: its mean and biased
  // variance are what we need (its output is dropped; one extra pass, kept for device-generality).
  if (x.device().is_cpu()) {
    return cpu::batch_norm_forward_training(x, Tensor(), Tensor(), Tensor(), Tensor(), 0.0f, eps);
  }
#if CRUNET_WITH_CUDA
  return cuda::batch_norm_forward_training(x, Tensor(), Tensor(), Tensor(), Tensor(), 0.0f, eps);
#else
  fail_no_backend("sync_batch_norm", x.device());
#endif
}

Tensor normalize(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                 const Tensor& var, float eps) {
  if (x.device().is_cpu()) return cpu::batch_norm_forward_eval(x, weight, bias, mean, var, eps);
#if CRUNET_WITH_CUDA
  return cuda::batch_norm_forward_eval(x, weight, bias, mean, var, eps);
#else
  fail_no_backend("sync_batch_norm", x.device());
#endif
}

BatchNormGrads backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                        const Tensor& mean, const Tensor& var, float eps, bool need_x, bool need_w,
                        bool need_b) {
  // Evaluation mode: mean and var are constants here; their dependence on x is the bracket above.
  if (grad_y.device().is_cpu()) {
    return cpu::batch_norm_backward(grad_y, x, weight, mean, var, eps, false, need_x, need_w,
                                    need_b);
  }
#if CRUNET_WITH_CUDA
  return cuda::batch_norm_backward(grad_y, x, weight, mean, var, eps, false, need_x, need_w,
                                   need_b);
#else
  fail_no_backend("sync_batch_norm backward", grad_y.device());
#endif
}

std::vector<double> to_doubles(const Tensor& t) {
  const std::vector<float> values = t.to_vector();
  return std::vector<double>(values.begin(), values.end());
}

Tensor channel_tensor(const std::vector<double>& values, std::size_t first, std::size_t count,
                      double factor, const Device& device) {
  std::vector<float> out(count);
  for (std::size_t c = 0; c < count; ++c) out[c] = static_cast<float>(values[first + c] * factor);
  return from_vector(out, {static_cast<std::int64_t>(count)}).to(device);
}

void update_running(const Tensor& running, const Tensor& batch, float momentum) {
  scale_inplace(running, 1.0f - momentum);
  add_inplace(running, batch, momentum);
}

}  // namespace

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var,
                       const BatchNormParams& params, const CrossProcessSum& sum) {
  if (!params.training) return batch_norm(x, weight, bias, running_mean, running_var, params);
  if (!sum) fail("sync_batch_norm", "needs a cross-process sum");
  check_rank("sync_batch_norm", x, "x", 4);
  check_dtype("sync_batch_norm", x, "x", DType::Float32);
  for (const auto& [t, name] : {std::pair{weight, "weight"}, std::pair{bias, "bias"},
                                std::pair{running_mean, "running_mean"},
                                std::pair{running_var, "running_var"}}) {
    if (!t.defined()) continue;
    check_same_device("sync_batch_norm", x, "x", t, name);
    check_dtype("sync_batch_norm", t, name, DType::Float32);
    if (t.shape() != Shape{x.size(1)}) {
      fail("sync_batch_norm", std::string(name) + " has shape " + shape_str(t.shape()) +
                                  " but x has shape " + shape_str(x.shape()) +
                                  " (expected one value per channel)");
    }
  }
  if (running_mean.defined() != running_var.defined()) {
    fail("sync_batch_norm", "running_mean and running_var must be both defined or both undefined");
  }
  for (const Tensor& t : {running_mean, running_var}) {
    if (t.defined() && !t.is_contiguous()) fail("sync_batch_norm", "running statistics must be contiguous");
  }
  if (!(params.eps >= 0.0f) || !std::isfinite(params.eps)) {
    fail("sync_batch_norm", "eps must be finite and >= 0, got " + std::to_string(params.eps));
  }

  const Tensor xc = backend_layout(x);
  const std::int64_t channels = x.size(1);
  const auto c_count = static_cast<std::size_t>(channels);
  const double m = channels > 0 ? static_cast<double>(x.numel() / channels) : 0.0;

  // Local statistics (a process whose part is empty contributes nothing), then the global ones.
  std::vector<double> stats(3 * c_count + 1, 0.0);
  if (m > 0) {
    const BatchNormForward local = local_statistics(xc, params.eps);
    const std::vector<double> mean = to_doubles(local.mean), var = to_doubles(local.var);
    for (std::size_t c = 0; c < c_count; ++c) {
      stats[c] = m * mean[c];
      stats[c_count + c] = m * var[c];
      stats[2 * c_count + c] = m * mean[c] * mean[c];
    }
  }
  stats[3 * c_count] = m;
  sum(stats);
  const double total = stats[3 * c_count];
  if (total <= 1) {
    fail("sync_batch_norm", "training needs more than one value per channel over all processes, "
                            "x has shape " + shape_str(x.shape()));
  }
  std::vector<double> global(2 * c_count);
  for (std::size_t c = 0; c < c_count; ++c) {
    const double mu = stats[c] / total;
    global[c] = mu;
    global[c_count + c] =
        std::max(0.0, (stats[c_count + c] + stats[2 * c_count + c] - total * mu * mu) / total);
  }
  const Tensor mean = channel_tensor(global, 0, c_count, 1.0, x.device());
  const Tensor var = channel_tensor(global, c_count, c_count, 1.0, x.device());
  const Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = normalize(xc, wc, bc, mean, var, params.eps);

  if (running_mean.defined()) {
    update_running(running_mean, mean, params.momentum);
    update_running(running_var,
                   channel_tensor(global, c_count, c_count, total / (total - 1), x.device()),
                   params.momentum);
  }

  if (autograd::needs_grad({x, weight, bias})) {
    const bool need_x = x.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    autograd::record(
        "sync_batch_norm", y, {x, weight, bias},
        [need_x, need_w, need_b, eps = params.eps, total, sum, saved_x = xc.detach(),
         saved_w = wc.defined() ? wc.detach() : Tensor(), mean, var](const Tensor& grad) {
          const Tensor dy = backend_layout(grad).contiguous(saved_x.memory_format());
          // This process's sum(dy * xhat) and sum(dy): the parameter gradients, and (summed over
          // processes) the terms that carry x's gradient through the global statistics.
          BatchNormGrads local = backward(dy, saved_x, Tensor(), mean, var, eps, false, true, true);
          Tensor grad_x;
          if (need_x) {
            std::vector<double> sums = to_doubles(local.weight);
            const std::vector<double> bias_sums = to_doubles(local.bias);
            sums.insert(sums.end(), bias_sums.begin(), bias_sums.end());
            sum(sums);
            const std::size_t c_count = bias_sums.size();
            const Device device = dy.device();
            const Tensor through_stats =
                normalize(saved_x, channel_tensor(sums, 0, c_count, 1.0 / total, device),
                          channel_tensor(sums, c_count, c_count, 1.0 / total, device), mean, var,
                          eps);
            Tensor bracket = empty_like(dy);
            bracket.copy_(dy);
            add_inplace(bracket, through_stats, -1.0f);
            grad_x = backward(bracket, saved_x, saved_w, mean, var, eps, true, false, false).x;
          }
          return std::vector<Tensor>{grad_x, need_w ? local.weight : Tensor(),
                                     need_b ? local.bias : Tensor()};
        });
  }
  return y;
}

}  // namespace crunet::ops
