// The CPU cast: the bit-exact conversions of crunet/core/half.h, one element at a time.
#include "../cast_backend.h"
#include "../op_checks.h"
#include "crunet/core/half.h"

namespace crunet::ops::cpu {

Tensor cast(const Tensor& x, DType dtype) {
  Tensor y = empty(x.shape(), TensorOptions(dtype, x.device()));
  const std::int64_t count = x.numel();
  if (x.dtype() == DType::Float32 && dtype == DType::BFloat16) {
    const float* in = x.data<float>();
    auto* out = static_cast<std::uint16_t*>(y.data_ptr());
#pragma omp parallel for if (count > 32768)
    for (std::int64_t i = 0; i < count; ++i) out[i] = float_to_bfloat16_bits(in[i]);
  } else if (x.dtype() == DType::BFloat16 && dtype == DType::Float32) {
    const auto* in = static_cast<const std::uint16_t*>(x.data_ptr());
    float* out = y.data<float>();
#pragma omp parallel for if (count > 32768)
    for (std::int64_t i = 0; i < count; ++i) out[i] = bfloat16_bits_to_float(in[i]);
  } else {
    fail("cast", std::string("no conversion from ") + x.description() + " to " + dtype_name(dtype));
  }
  return y;
}

}  // namespace crunet::ops::cpu
