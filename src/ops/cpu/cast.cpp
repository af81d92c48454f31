// The CPU cast: the bit-exact conversions of crunet/core/half.h over a dense tensor's storage, so
// the result keeps x's memory format (NCHW or channels-last).
#include "../cast_backend.h"
#include "../op_checks.h"
#include "core/parallel_for.h"
#include "crunet/core/half.h"

namespace crunet::ops::cpu {

Tensor cast(const Tensor& x, DType dtype) {
  Tensor y = empty(x.shape(), TensorOptions(dtype, x.device()), x.memory_format());
  const std::int64_t count = x.numel();
  if (x.dtype() == DType::Float32 && dtype == DType::BFloat16) {
    const float* in = x.data<float>();
    auto* out = static_cast<std::uint16_t*>(y.data_ptr());
    parallel_for(count, [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
      for (std::int64_t i = begin; i < end; ++i) out[i] = float_to_bfloat16_bits(in[i]);
    });
  } else if (x.dtype() == DType::BFloat16 && dtype == DType::Float32) {
    const auto* in = static_cast<const std::uint16_t*>(x.data_ptr());
    float* out = y.data<float>();
    parallel_for(count, [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
      for (std::int64_t i = begin; i < end; ++i) out[i] = bfloat16_bits_to_float(in[i]);
    });
  } else {
    fail("cast", std::string("no conversion from ") + x.description() + " to " + dtype_name(dtype));
  }
  return y;
}

}  // namespace crunet::ops::cpu
