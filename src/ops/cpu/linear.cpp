#include "../linear_backend.h"
#include "../op_checks.h"
#include "gemm.h"

namespace crunet::ops::cpu {

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_dtype("linear", x, "x", DType::Float32);
  const std::int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
  Tensor y = empty({n, out});
  float* yp = y.data<float>();
  if (bias.defined()) {
    const float* b = bias.data<float>();
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < out; ++j) yp[i * out + j] = b[j];
    }
  }
  gemm(false, true, n, out, in, 1.0f, x.data<float>(), in, weight.data<float>(), in,
       bias.defined() ? 1.0f : 0.0f, yp, out);
  return y;
}

Tensor linear_backward_input(const Tensor& grad_y, const Tensor& weight) {
  const std::int64_t n = grad_y.size(0), out = weight.size(0), in = weight.size(1);
  Tensor grad_x = empty({n, in});
  gemm(false, false, n, in, out, 1.0f, grad_y.data<float>(), out, weight.data<float>(), in, 0.0f,
       grad_x.data<float>(), in);
  return grad_x;
}

Tensor linear_backward_weight(const Tensor& grad_y, const Tensor& x) {
  const std::int64_t n = x.size(0), in = x.size(1), out = grad_y.size(1);
  Tensor grad_w = empty({out, in});
  gemm(true, false, out, in, n, 1.0f, grad_y.data<float>(), out, x.data<float>(), in, 0.0f,
       grad_w.data<float>(), in);
  return grad_w;
}

Tensor linear_backward_bias(const Tensor& grad_y) {
  const std::int64_t n = grad_y.size(0), out = grad_y.size(1);
  Tensor grad_b = zeros({out});
  const float* g = grad_y.data<float>();
  float* gb = grad_b.data<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < out; ++j) gb[j] += g[i * out + j];
  }
  return grad_b;
}

}  // namespace crunet::ops::cpu
