// batch_norm by plain loops over each channel's N*H*W values: two passes for the statistics
// (mean, then the centred sum of squares) and the backward sums, accumulated in double so that
// large channels lose no precision. Channels run in parallel.
#include "batch_norm_reference.h"

#include <cmath>
#include <vector>

#include "../op_checks.h"

namespace crunet::ops::cpu::reference {
namespace {

// x [N, C, H, W] seen as C channels of N planes of `area` values each.
struct Layout {
  std::int64_t n, c, area;
  explicit Layout(const Shape& s) : n(s[0]), c(s[1]), area(s[2] * s[3]) {}
  std::int64_t count() const { return n * area; }
  std::int64_t plane(std::int64_t batch, std::int64_t channel) const {
    return (batch * c + channel) * area;
  }
};

bool parallel(const Layout& l) { return l.n * l.c * l.area > 32768; }

// y = (x - mean[c]) * scale[c] + shift[c] with scale = w * invstd, shift = b - mean * scale.
Tensor normalise(const Tensor& x, const Tensor& weight, const Tensor& bias,
                 const std::vector<double>& mean, const std::vector<double>& invstd) {
  const Layout l(x.shape());
  Tensor y = empty(x.shape());
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const float* w = weight.defined() ? weight.data<float>() : nullptr;
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
#pragma omp parallel for if (parallel(l))
  for (std::int64_t c = 0; c < l.c; ++c) {
    const double scale = (w ? w[c] : 1.0) * invstd[c];
    const double shift = (b ? b[c] : 0.0) - mean[c] * scale;
    for (std::int64_t n = 0; n < l.n; ++n) {
      const float* in = xp + l.plane(n, c);
      float* out = yp + l.plane(n, c);
      for (std::int64_t i = 0; i < l.area; ++i) out[i] = static_cast<float>(in[i] * scale + shift);
    }
  }
  return y;
}

std::vector<double> inverse_std(const std::vector<double>& var, float eps) {
  std::vector<double> invstd(var.size());
  for (std::size_t c = 0; c < var.size(); ++c) invstd[c] = 1.0 / std::sqrt(var[c] + eps);
  return invstd;
}

std::vector<double> to_doubles(const Tensor& t) {
  const std::vector<float> values = t.to_vector();
  return std::vector<double>(values.begin(), values.end());
}

}  // namespace

void update_running_stats(const Tensor& running_mean, const Tensor& running_var, const Tensor& mean,
                          const Tensor& var, std::int64_t count, float momentum) {
  if (!running_mean.defined()) return;
  const std::int64_t channels = mean.numel();
  const float* m = mean.data<float>();
  const float* v = var.data<float>();
  float* rm = running_mean.data<float>();
  float* rv = running_var.data<float>();
  const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
  for (std::int64_t c = 0; c < channels; ++c) {
    rm[c] = static_cast<float>((1.0 - momentum) * rm[c] + momentum * static_cast<double>(m[c]));
    rv[c] = static_cast<float>((1.0 - momentum) * rv[c] + momentum * v[c] * unbias);
  }
}

BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps) {
  check_dtype("batch_norm", x, "x", DType::Float32);
  const Layout l(x.shape());
  const float* xp = x.data<float>();
  std::vector<double> mean(static_cast<std::size_t>(l.c)), var(static_cast<std::size_t>(l.c));
#pragma omp parallel for if (parallel(l))
  for (std::int64_t c = 0; c < l.c; ++c) {
    double sum = 0.0;
    for (std::int64_t n = 0; n < l.n; ++n) {
      const float* in = xp + l.plane(n, c);
      for (std::int64_t i = 0; i < l.area; ++i) sum += in[i];
    }
    const double mu = sum / static_cast<double>(l.count());
    double squares = 0.0;
    for (std::int64_t n = 0; n < l.n; ++n) {
      const float* in = xp + l.plane(n, c);
      for (std::int64_t i = 0; i < l.area; ++i) squares += (in[i] - mu) * (in[i] - mu);
    }
    mean[c] = mu;
    var[c] = squares / static_cast<double>(l.count());
  }
  BatchNormForward out;
  out.y = normalise(x, weight, bias, mean, inverse_std(var, eps));
  out.mean = from_vector(std::vector<float>(mean.begin(), mean.end()), {l.c});
  out.var = from_vector(std::vector<float>(var.begin(), var.end()), {l.c});
  update_running_stats(running_mean, running_var, out.mean, out.var, l.count(), momentum);
  return out;
}

Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps) {
  check_dtype("batch_norm", x, "x", DType::Float32);
  return normalise(x, weight, bias, to_doubles(running_mean),
                   inverse_std(to_doubles(running_var), eps));
}

BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b) {
  const Layout l(grad_y.shape());
  const float* g = grad_y.data<float>();
  const bool need_stats = need_x || need_w;
  const float* xp = need_stats ? x.data<float>() : nullptr;
  const std::vector<double> mu = need_stats ? to_doubles(mean) : std::vector<double>();
  const std::vector<double> invstd =
      need_stats ? inverse_std(to_doubles(var), eps) : std::vector<double>();
  const float* w = need_x && weight.defined() ? weight.data<float>() : nullptr;

  BatchNormGrads grads;
  if (need_x) grads.x = empty(grad_y.shape());
  if (need_w) grads.weight = empty({l.c});
  if (need_b) grads.bias = empty({l.c});
  float* gx = need_x ? grads.x.data<float>() : nullptr;
  float* gw = need_w ? grads.weight.data<float>() : nullptr;
  float* gb = need_b ? grads.bias.data<float>() : nullptr;
  const double count = static_cast<double>(l.count());

#pragma omp parallel for if (parallel(l))
  for (std::int64_t c = 0; c < l.c; ++c) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (std::int64_t n = 0; n < l.n; ++n) {
      const float* dy = g + l.plane(n, c);
      if (need_stats) {
        const float* in = xp + l.plane(n, c);
        for (std::int64_t i = 0; i < l.area; ++i) {
          sum_dy += dy[i];
          sum_dy_xhat += dy[i] * ((in[i] - mu[c]) * invstd[c]);
        }
      } else {
        for (std::int64_t i = 0; i < l.area; ++i) sum_dy += dy[i];
      }
    }
    if (gb) gb[c] = static_cast<float>(sum_dy);
    if (gw) gw[c] = static_cast<float>(sum_dy_xhat);
    if (!gx) continue;
    const double scale = (w ? w[c] : 1.0) * invstd[c];
    // Training: the mean and variance depend on x, which removes the gradient's mean and its
    // projection on xhat. Eval: the statistics are constants.
    const double mean_dy = training ? sum_dy / count : 0.0;
    const double mean_dy_xhat = training ? sum_dy_xhat / count : 0.0;
    for (std::int64_t n = 0; n < l.n; ++n) {
      const float* dy = g + l.plane(n, c);
      const float* in = xp + l.plane(n, c);
      float* out = gx + l.plane(n, c);
      for (std::int64_t i = 0; i < l.area; ++i) {
        const double xhat = (in[i] - mu[c]) * invstd[c];
        out[i] = static_cast<float>(scale * (dy[i] - mean_dy - xhat * mean_dy_xhat));
      }
    }
  }
  return grads;
}

}  // namespace crunet::ops::cpu::reference
