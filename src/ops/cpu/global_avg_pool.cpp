// global_avg_pool on the CPU for NCHW x (a reduction over each contiguous plane) and channels-last
// x (a sum of the H * W rows of C values of each image, vectorised across channels).
#include "../cast_backend.h"
#include "../global_avg_pool_backend.h"
#include "../op_checks.h"

namespace crunet::ops::cpu {
namespace {

void mean_of_planes(const float* in, float* out, std::int64_t planes, std::int64_t area) {
#pragma omp parallel for if (planes * area > 32768)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = in + p * area;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t i = 0; i < area; ++i) sum += plane[i];
    out[p] = sum / static_cast<float>(area);
  }
}

void mean_of_rows(const float* in, float* out, std::int64_t n, std::int64_t c, std::int64_t area) {
#pragma omp parallel for if (n * c * area > 32768)
  for (std::int64_t image = 0; image < n; ++image) {
    float* sum = out + image * c;
    for (std::int64_t k = 0; k < c; ++k) sum[k] = 0.0f;
    for (std::int64_t i = 0; i < area; ++i) {
      const float* row = in + (image * area + i) * c;
#pragma omp simd
      for (std::int64_t k = 0; k < c; ++k) sum[k] += row[k];
    }
    const float scale = 1.0f / static_cast<float>(area);
    for (std::int64_t k = 0; k < c; ++k) sum[k] *= scale;
  }
}

}  // namespace

// bfloat16 goes through float32 copies: the head's pool reads the smallest activation of the
// network, so the two conversions cost little, and the means are formed in float32.
Tensor global_avg_pool_forward(const Tensor& x) {
  if (x.dtype() == DType::BFloat16) {
    check_cpu_compute_dtype("global_avg_pool", x, "x");
    return cast(global_avg_pool_forward(cast(x, DType::Float32)), DType::BFloat16);
  }
  check_dtype("global_avg_pool", x, "x", DType::Float32);
  const std::int64_t n = x.size(0), c = x.size(1), area = x.size(2) * x.size(3);
  Tensor y = empty({n, c});
  if (x.memory_format() == MemoryFormat::ChannelsLast) {
    mean_of_rows(x.data<float>(), y.data<float>(), n, c, area);
  } else {
    const Tensor xc = x.contiguous();
    mean_of_planes(xc.data<float>(), y.data<float>(), n * c, area);
  }
  return y;
}

Tensor global_avg_pool_backward(const Tensor& grad_y, const Shape& x_shape, MemoryFormat x_format) {
  if (grad_y.dtype() == DType::BFloat16) {
    return cast(global_avg_pool_backward(cast(grad_y, DType::Float32), x_shape, x_format),
                DType::BFloat16);
  }
  const std::int64_t n = x_shape[0], c = x_shape[1], area = x_shape[2] * x_shape[3];
  Tensor grad_x = empty(x_shape, {}, x_format);
  const float* g = grad_y.data<float>();
  float* gx = grad_x.data<float>();
  const float scale = 1.0f / static_cast<float>(area);
  if (grad_x.memory_format() == MemoryFormat::ChannelsLast) {
#pragma omp parallel for collapse(2) if (n * c * area > 32768)
    for (std::int64_t image = 0; image < n; ++image) {
      for (std::int64_t i = 0; i < area; ++i) {
        float* row = gx + (image * area + i) * c;
        const float* value = g + image * c;
#pragma omp simd
        for (std::int64_t k = 0; k < c; ++k) row[k] = value[k] * scale;
      }
    }
    return grad_x;
  }
#pragma omp parallel for if (n * c * area > 32768)
  for (std::int64_t p = 0; p < n * c; ++p) {
    const float value = g[p] * scale;
    float* plane = gx + p * area;
    for (std::int64_t i = 0; i < area; ++i) plane[i] = value;
  }
  return grad_x;
}

}  // namespace crunet::ops::cpu
