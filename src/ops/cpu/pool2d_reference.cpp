// 2-d pooling by plain loops over each output's window, clipped to the input (which is what both
// "padding is -infinity" for max and count_include_pad = false for avg amount to). Planes (n, c)
// run in parallel; backward scatters into its own plane only, so no two threads write one value.
#include "pool2d_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../op_checks.h"

namespace crunet::ops::cpu::reference {
namespace {

struct Geometry {
  std::int64_t planes, h, w, oh, ow, kernel, stride, padding;
  Geometry(const Shape& x_shape, const Pool2dParams& p)
      : planes(x_shape[0] * x_shape[1]),
        h(x_shape[2]),
        w(x_shape[3]),
        oh(pool2d_output_size(x_shape[2], p)),
        ow(pool2d_output_size(x_shape[3], p)),
        kernel(p.kernel),
        stride(p.stride),
        padding(p.padding) {}
  Shape y_shape(const Shape& x_shape) const { return {x_shape[0], x_shape[1], oh, ow}; }
  bool parallel() const { return planes * oh * ow * kernel * kernel > 32768; }
};

// The input rows (or columns) [begin, end) of window `o` along an extent `size`.
struct Span {
  std::int64_t begin, end;
};
Span window(std::int64_t o, std::int64_t size, const Geometry& g) {
  const std::int64_t start = o * g.stride - g.padding;
  return {std::max<std::int64_t>(start, 0), std::min(start + g.kernel, size)};
}

}  // namespace

MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params,
                                    bool for_backward) {
  check_dtype("max_pool2d", x, "x", DType::Float32);
  const Geometry g(x.shape(), params);
  MaxPool2dForward out;
  out.y = empty(g.y_shape(x.shape()));
  if (for_backward) out.saved = empty(out.y.shape(), DType::Int64);
  const float* in = x.data<float>();
  float* y = out.y.data<float>();
  std::int64_t* indices = for_backward ? out.saved.data<std::int64_t>() : nullptr;
#pragma omp parallel for if (g.parallel())
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* plane = in + p * g.h * g.w;
    for (std::int64_t oh = 0; oh < g.oh; ++oh) {
      const Span rows = window(oh, g.h, g);
      for (std::int64_t ow = 0; ow < g.ow; ++ow) {
        const Span cols = window(ow, g.w, g);
        float best = -std::numeric_limits<float>::infinity();
        std::int64_t best_index = rows.begin * g.w + cols.begin;
        for (std::int64_t ih = rows.begin; ih < rows.end; ++ih) {
          for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) {
            const float v = plane[ih * g.w + iw];
            // Strictly greater: the first maximum wins; NaN propagates, as PyTorch.
            if (v > best || std::isnan(v)) {
              best = v;
              best_index = ih * g.w + iw;
            }
          }
        }
        const std::int64_t o = (p * g.oh + oh) * g.ow + ow;
        y[o] = best;
        if (indices) indices[o] = best_index;
      }
    }
  }
  return out;
}

Tensor max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Shape& x_shape,
                           const Pool2dParams& params) {
  const Geometry g(x_shape, params);
  Tensor grad_x = zeros(x_shape);
  const float* gy = grad_y.data<float>();
  const std::int64_t* index = indices.data<std::int64_t>();
  float* gx = grad_x.data<float>();
  const std::int64_t outputs = g.oh * g.ow;
#pragma omp parallel for if (g.parallel())
  for (std::int64_t p = 0; p < g.planes; ++p) {
    float* plane = gx + p * g.h * g.w;
    for (std::int64_t o = p * outputs; o < (p + 1) * outputs; ++o) plane[index[o]] += gy[o];
  }
  return grad_x;
}

Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params) {
  check_dtype("avg_pool2d", x, "x", DType::Float32);
  const Geometry g(x.shape(), params);
  Tensor y = empty(g.y_shape(x.shape()));
  const float* in = x.data<float>();
  float* out = y.data<float>();
#pragma omp parallel for if (g.parallel())
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const float* plane = in + p * g.h * g.w;
    for (std::int64_t oh = 0; oh < g.oh; ++oh) {
      const Span rows = window(oh, g.h, g);
      for (std::int64_t ow = 0; ow < g.ow; ++ow) {
        const Span cols = window(ow, g.w, g);
        double sum = 0.0;
        for (std::int64_t ih = rows.begin; ih < rows.end; ++ih) {
          for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) sum += plane[ih * g.w + iw];
        }
        const auto count = static_cast<double>((rows.end - rows.begin) * (cols.end - cols.begin));
        out[(p * g.oh + oh) * g.ow + ow] = static_cast<float>(sum / count);
      }
    }
  }
  return y;
}

Tensor avg_pool2d_backward(const Tensor& grad_y, const Shape& x_shape, const Pool2dParams& params) {
  const Geometry g(x_shape, params);
  Tensor grad_x = zeros(x_shape);
  const float* gy = grad_y.data<float>();
  float* gx = grad_x.data<float>();
#pragma omp parallel for if (g.parallel())
  for (std::int64_t p = 0; p < g.planes; ++p) {
    float* plane = gx + p * g.h * g.w;
    for (std::int64_t oh = 0; oh < g.oh; ++oh) {
      const Span rows = window(oh, g.h, g);
      for (std::int64_t ow = 0; ow < g.ow; ++ow) {
        const Span cols = window(ow, g.w, g);
        const auto count = static_cast<float>((rows.end - rows.begin) * (cols.end - cols.begin));
        const float share = gy[(p * g.oh + oh) * g.ow + ow] / count;
        for (std::int64_t ih = rows.begin; ih < rows.end; ++ih) {
          for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) plane[ih * g.w + iw] += share;
        }
      }
    }
  }
  return grad_x;
}

}  // namespace crunet::ops::cpu::reference
