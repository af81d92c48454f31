#include "../add_backend.h"
#include "../op_checks.h"
#include "core/parallel_for.h"
#include "crunet/core/half.h"

namespace crunet::ops::cpu {

// a and b dense, in any layouts; the sum is in a's, b is brought to it when it differs. bfloat16
// sums are formed in float32 and rounded once.
Tensor add_forward(const Tensor& a, const Tensor& b_any_layout) {
  check_cpu_compute_dtype("add", a, "a");
  const Tensor b = b_any_layout.contiguous(a.memory_format());
  Tensor out = empty_like(a);
  if (a.dtype() == DType::BFloat16) {
    const auto* x = static_cast<const std::uint16_t*>(a.data_ptr());
    const auto* y = static_cast<const std::uint16_t*>(b.data_ptr());
    auto* z = static_cast<std::uint16_t*>(out.data_ptr());
    parallel_for(a.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
      for (std::int64_t i = begin; i < end; ++i) {
        z[i] = float_to_bfloat16_bits(bfloat16_bits_to_float(x[i]) + bfloat16_bits_to_float(y[i]));
      }
    });
    return out;
  }
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  float* z = out.data<float>();
  parallel_for(a.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) z[i] = x[i] + y[i];
  });
  return out;
}

}  // namespace crunet::ops::cpu
