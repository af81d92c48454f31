// The reference convolution: each output (or gradient) element is one sum written straight from
// the definition, accumulated in double; no tiling, no layout tricks, nothing to get wrong. The
// loops run in parallel over independent outputs only, so results do not depend on the thread
// count.
#include "conv2d_reference.h"

#include "../op_checks.h"

namespace crunet::ops::cpu::reference {
namespace {

// The sizes every loop below needs, read from x [N, Cin, H, W] and weight [Cout, Cin/G, K, K].
struct Dims {
  std::int64_t n, c_in, h, w, c_out, k, oh, ow, groups, c_in_g, c_out_g, stride, pad;
};

Dims make_dims(const Shape& x, const Shape& weight, const Conv2dParams& params) {
  Dims d{};
  d.n = x[0];
  d.c_in = x[1];
  d.h = x[2];
  d.w = x[3];
  d.c_out = weight[0];
  d.k = weight[2];
  d.oh = conv2d_output_size(d.h, d.k, params);
  d.ow = conv2d_output_size(d.w, d.k, params);
  d.groups = params.groups;
  d.c_in_g = d.c_in / d.groups;
  d.c_out_g = d.c_out / d.groups;
  d.stride = params.stride;
  d.pad = params.padding;
  return d;
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params) {
  check_dtype("conv2d", x, "x", DType::Float32);
  const Dims d = make_dims(x.shape(), weight.shape(), params);
  Tensor y = empty({d.n, d.c_out, d.oh, d.ow});
  const float* xp = x.data<float>();
  const float* wp = weight.data<float>();
  const float* bp = bias.defined() ? bias.data<float>() : nullptr;
  float* yp = y.data<float>();
#pragma omp parallel for collapse(2)
  for (std::int64_t n = 0; n < d.n; ++n) {
    for (std::int64_t co = 0; co < d.c_out; ++co) {
      const std::int64_t g = co / d.c_out_g;
      for (std::int64_t oy = 0; oy < d.oh; ++oy) {
        for (std::int64_t ox = 0; ox < d.ow; ++ox) {
          double sum = bp ? bp[co] : 0.0;
          for (std::int64_t cig = 0; cig < d.c_in_g; ++cig) {
            const std::int64_t ci = g * d.c_in_g + cig;
            for (std::int64_t ky = 0; ky < d.k; ++ky) {
              const std::int64_t iy = oy * d.stride - d.pad + ky;
              if (iy < 0 || iy >= d.h) continue;
              for (std::int64_t kx = 0; kx < d.k; ++kx) {
                const std::int64_t ix = ox * d.stride - d.pad + kx;
                if (ix < 0 || ix >= d.w) continue;
                sum += static_cast<double>(xp[((n * d.c_in + ci) * d.h + iy) * d.w + ix]) *
                       wp[((co * d.c_in_g + cig) * d.k + ky) * d.k + kx];
              }
            }
          }
          yp[((n * d.c_out + co) * d.oh + oy) * d.ow + ox] = static_cast<float>(sum);
        }
      }
    }
  }
  return y;
}

// grad_x[n, ci, iy, ix] = sum over the outputs (co, oy, ox) that read x[n, ci, iy, ix] through
// kernel tap (ky, kx), i.e. iy = oy*s - p + ky, of grad_y[n, co, oy, ox] * w[co, ci_g, ky, kx].
Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params) {
  check_dtype("conv2d backward", grad_y, "grad_y", DType::Float32);
  const Dims d = make_dims(x_shape, weight.shape(), params);
  Tensor grad_x = empty(x_shape);
  const float* gy = grad_y.data<float>();
  const float* wp = weight.data<float>();
  float* gx = grad_x.data<float>();
#pragma omp parallel for collapse(2)
  for (std::int64_t n = 0; n < d.n; ++n) {
    for (std::int64_t ci = 0; ci < d.c_in; ++ci) {
      const std::int64_t g = ci / d.c_in_g, cig = ci % d.c_in_g;
      for (std::int64_t iy = 0; iy < d.h; ++iy) {
        for (std::int64_t ix = 0; ix < d.w; ++ix) {
          double sum = 0.0;
          for (std::int64_t cog = 0; cog < d.c_out_g; ++cog) {
            const std::int64_t co = g * d.c_out_g + cog;
            for (std::int64_t ky = 0; ky < d.k; ++ky) {
              const std::int64_t ty = iy + d.pad - ky;
              if (ty < 0 || ty % d.stride != 0 || ty / d.stride >= d.oh) continue;
              const std::int64_t oy = ty / d.stride;
              for (std::int64_t kx = 0; kx < d.k; ++kx) {
                const std::int64_t tx = ix + d.pad - kx;
                if (tx < 0 || tx % d.stride != 0 || tx / d.stride >= d.ow) continue;
                const std::int64_t ox = tx / d.stride;
                sum += static_cast<double>(gy[((n * d.c_out + co) * d.oh + oy) * d.ow + ox]) *
                       wp[((co * d.c_in_g + cig) * d.k + ky) * d.k + kx];
              }
            }
          }
          gx[((n * d.c_in + ci) * d.h + iy) * d.w + ix] = static_cast<float>(sum);
        }
      }
    }
  }
  return grad_x;
}

// grad_w[co, ci_g, ky, kx] = sum over n, oy, ox of grad_y[n, co, oy, ox] * x[n, ci, oy*s-p+ky, ...].
Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params) {
  check_dtype("conv2d backward", grad_y, "grad_y", DType::Float32);
  const Dims d = make_dims(x.shape(), weight_shape, params);
  Tensor grad_w = empty(weight_shape);
  const float* gy = grad_y.data<float>();
  const float* xp = x.data<float>();
  float* gw = grad_w.data<float>();
#pragma omp parallel for collapse(2)
  for (std::int64_t co = 0; co < d.c_out; ++co) {
    for (std::int64_t cig = 0; cig < d.c_in_g; ++cig) {
      const std::int64_t ci = (co / d.c_out_g) * d.c_in_g + cig;
      for (std::int64_t ky = 0; ky < d.k; ++ky) {
        for (std::int64_t kx = 0; kx < d.k; ++kx) {
          double sum = 0.0;
          for (std::int64_t n = 0; n < d.n; ++n) {
            for (std::int64_t oy = 0; oy < d.oh; ++oy) {
              const std::int64_t iy = oy * d.stride - d.pad + ky;
              if (iy < 0 || iy >= d.h) continue;
              for (std::int64_t ox = 0; ox < d.ow; ++ox) {
                const std::int64_t ix = ox * d.stride - d.pad + kx;
                if (ix < 0 || ix >= d.w) continue;
                sum += static_cast<double>(gy[((n * d.c_out + co) * d.oh + oy) * d.ow + ox]) *
                       xp[((n * d.c_in + ci) * d.h + iy) * d.w + ix];
              }
            }
          }
          gw[((co * d.c_in_g + cig) * d.k + ky) * d.k + kx] = static_cast<float>(sum);
        }
      }
    }
  }
  return grad_w;
}

Tensor conv2d_backward_bias(const Tensor& grad_y) {
  check_dtype("conv2d backward", grad_y, "grad_y", DType::Float32);
  const std::int64_t n = grad_y.size(0), c = grad_y.size(1), area = grad_y.size(2) * grad_y.size(3);
  Tensor grad_b = empty({c});
  const float* gy = grad_y.data<float>();
  float* gb = grad_b.data<float>();
#pragma omp parallel for
  for (std::int64_t co = 0; co < c; ++co) {
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < area; ++j) sum += gy[(i * c + co) * area + j];
    }
    gb[co] = static_cast<float>(sum);
  }
  return grad_b;
}

}  // namespace crunet::ops::cpu::reference
