#pragma once
// In-place random fills, drawn where the tensor lives. CPU tensors draw from default_generator()
// in element order, exactly as randn and rand_uniform do; CUDA tensors draw on the device from
// their device's cuda_generator() with Philox4x32-10, without a round trip through the host. The
// two devices give different numbers for one seed; each is reproducible.
#include "crunet/core/tensor.h"

namespace crunet {

// t (float32 or bfloat16, contiguous) filled with N(mean, std^2).
void normal_(const Tensor& t, double mean = 0.0, double std = 1.0);
// t filled uniformly in [low, high).
void uniform_(const Tensor& t, double low = 0.0, double high = 1.0);

}  // namespace crunet
