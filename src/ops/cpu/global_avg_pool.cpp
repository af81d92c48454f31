#include "../global_avg_pool_backend.h"
#include "../op_checks.h"

namespace crunet::ops::cpu {

Tensor global_avg_pool_forward(const Tensor& x) {
  check_dtype("global_avg_pool", x, "x", DType::Float32);
  const std::int64_t planes = x.size(0) * x.size(1);
  const std::int64_t area = x.size(2) * x.size(3);
  Tensor y = empty({x.size(0), x.size(1)});
  const float* in = x.data<float>();
  float* out = y.data<float>();
#pragma omp parallel for if (planes * area > 32768)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* plane = in + p * area;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t i = 0; i < area; ++i) sum += plane[i];
    out[p] = sum / static_cast<float>(area);
  }
  return y;
}

Tensor global_avg_pool_backward(const Tensor& grad_y, const Shape& x_shape) {
  const std::int64_t planes = x_shape[0] * x_shape[1];
  const std::int64_t area = x_shape[2] * x_shape[3];
  Tensor grad_x = empty(x_shape);
  const float* g = grad_y.data<float>();
  float* gx = grad_x.data<float>();
  const float scale = 1.0f / static_cast<float>(area);
#pragma omp parallel for if (planes * area > 32768)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float value = g[p] * scale;
    float* plane = gx + p * area;
    for (std::int64_t i = 0; i < area; ++i) plane[i] = value;
  }
  return grad_x;
}

}  // namespace crunet::ops::cpu
