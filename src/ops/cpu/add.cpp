#include "../add_backend.h"
#include "../op_checks.h"
#include "core/parallel_for.h"

namespace crunet::ops::cpu {

// a and b dense, in any layouts; the sum is in a's, b is brought to it when it differs.
Tensor add_forward(const Tensor& a, const Tensor& b_any_layout) {
  check_dtype("add", a, "a", DType::Float32);
  const Tensor b = b_any_layout.contiguous(a.memory_format());
  Tensor out = empty_like(a);
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
