#pragma once
// The CUDA half of crunet/core/random.h (kernels/random.cu): float32 or bfloat16, contiguous,
// checked by the caller. Element i of the fill is scale * v_i + shift with v the standard normal
// (normal) or the uniform in [0, 1) of philox::normal4 / uniform4 for (seed, fill).
#include <cstdint>

#include "crunet/core/tensor.h"

namespace crunet::cuda {

void philox_fill(const Tensor& t, std::uint64_t seed, std::uint64_t fill, bool normal, float scale,
                 float shift);

}  // namespace crunet::cuda
