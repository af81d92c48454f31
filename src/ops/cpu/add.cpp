#include "../add_backend.h"
#include "../op_checks.h"

namespace crunet::ops::cpu {

Tensor add_forward(const Tensor& a, const Tensor& b) {
  check_dtype("add", a, "a", DType::Float32);
  Tensor out = empty_like(a);
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  float* z = out.data<float>();
  const std::int64_t count = a.numel();
#pragma omp parallel for simd if (count > 32768)
  for (std::int64_t i = 0; i < count; ++i) z[i] = x[i] + y[i];
  return out;
}

}  // namespace crunet::ops::cpu
