#include "../relu_backend.h"
#include "../op_checks.h"

namespace crunet::ops::cpu {

Tensor relu_forward(const Tensor& x) {
  check_dtype("relu", x, "x", DType::Float32);
  Tensor y = empty_like(x);
  const float* in = x.data<float>();
  float* out = y.data<float>();
  const std::int64_t count = x.numel();
#pragma omp parallel for simd if (count > 32768)
  for (std::int64_t i = 0; i < count; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
  return y;
}

Tensor relu_backward(const Tensor& grad_y, const Tensor& y) {
  check_same_shape("relu backward", grad_y, "grad_y", y, "y");
  Tensor grad_x = empty_like(y);
  const float* g = grad_y.data<float>();
  const float* out = y.data<float>();
  float* gx = grad_x.data<float>();
  const std::int64_t count = y.numel();
#pragma omp parallel for simd if (count > 32768)
  for (std::int64_t i = 0; i < count; ++i) gx[i] = out[i] > 0.0f ? g[i] : 0.0f;
  return grad_x;
}

}  // namespace crunet::ops::cpu
