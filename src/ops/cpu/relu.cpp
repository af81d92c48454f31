#include "../op_checks.h"
#include "../relu_backend.h"
#include "core/parallel_for.h"

namespace crunet::ops::cpu {

Tensor relu_forward(const Tensor& x) {
  check_dtype("relu", x, "x", DType::Float32);
  Tensor y = empty_like(x);
  const float* in = x.data<float>();
  float* out = y.data<float>();
  parallel_for(x.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) {
      const float v = in[i];
      out[i] = v > 0.0f ? v : 0.0f;
    }
  });
  return y;
}

// grad_x in y's layout; grad_y is brought to it when it differs.
Tensor relu_backward(const Tensor& grad_y_any_layout, const Tensor& y) {
  check_same_shape("relu backward", grad_y_any_layout, "grad_y", y, "y");
  const Tensor grad_y = grad_y_any_layout.contiguous(y.memory_format());
  Tensor grad_x = empty_like(y);
  const float* g = grad_y.data<float>();
  const float* out = y.data<float>();
  float* gx = grad_x.data<float>();
  parallel_for(y.numel(), [&](std::int64_t begin, std::int64_t end) {
  // Both loads unconditional and a select, not a branch on the sign of the activations.
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) {
      const float gi = g[i];
      gx[i] = out[i] > 0.0f ? gi : 0.0f;
    }
  });
  return grad_x;
}

}  // namespace crunet::ops::cpu
