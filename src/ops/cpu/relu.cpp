// relu on the CPU, float32 or bfloat16. On bfloat16 the sign bit decides (max(0, x) keeps the
// value's bits or gives +0), so no conversion is needed in either direction.
#include <cstdint>

#include "../op_checks.h"
#include "../relu_backend.h"
#include "core/parallel_for.h"

namespace crunet::ops::cpu {
namespace {

bool positive(float v) { return v > 0.0f; }
// Positive: sign bit clear and not +0 (NaN payloads, sign clear, count as positive as in PyTorch).
bool positive(std::uint16_t bits) { return bits != 0 && (bits & 0x8000u) == 0; }

template <typename T>
void relu_loop(const T* in, T* out, std::int64_t count) {
  parallel_for(count, [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) {
      const T v = in[i];
      out[i] = positive(v) ? v : T(0);
    }
  });
}

// Both loads unconditional and a select, not a branch on the sign of the activations.
template <typename T>
void relu_backward_loop(const T* g, const T* y, T* gx, std::int64_t count) {
  parallel_for(count, [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) {
      const T gi = g[i];
      gx[i] = positive(y[i]) ? gi : T(0);
    }
  });
}

}  // namespace

Tensor relu_forward(const Tensor& x) {
  check_cpu_compute_dtype("relu", x, "x");
  Tensor y = empty_like(x);
  if (x.dtype() == DType::BFloat16) {
    relu_loop(static_cast<const std::uint16_t*>(x.data_ptr()),
              static_cast<std::uint16_t*>(y.data_ptr()), x.numel());
  } else {
    relu_loop(x.data<float>(), y.data<float>(), x.numel());
  }
  return y;
}

// grad_x in y's layout; grad_y is brought to it when it differs.
Tensor relu_backward(const Tensor& grad_y_any_layout, const Tensor& y) {
  check_same_shape("relu backward", grad_y_any_layout, "grad_y", y, "y");
  check_same_dtype("relu backward", grad_y_any_layout, "grad_y", y, "y");
  const Tensor grad_y = grad_y_any_layout.contiguous(y.memory_format());
  Tensor grad_x = empty_like(y);
  if (y.dtype() == DType::BFloat16) {
    relu_backward_loop(static_cast<const std::uint16_t*>(grad_y.data_ptr()),
                       static_cast<const std::uint16_t*>(y.data_ptr()),
                       static_cast<std::uint16_t*>(grad_x.data_ptr()), y.numel());
  } else {
    relu_backward_loop(grad_y.data<float>(), y.data<float>(), grad_x.data<float>(), y.numel());
  }
  return grad_x;
}

}  // namespace crunet::ops::cpu
