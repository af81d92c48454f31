#pragma once
// 2-d max and average pooling kernels (kernels/pool2d.cu) for NCHW tensors stored as T: float, or
// std::uint16_t holding bfloat16 bits; arithmetic in float32. The window arithmetic and the
// semantics are those of src/ops/pool2d_backend.h (see ops/cuda/pool2d_windows.h).
#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/cuda/pool2d_windows.h"

namespace crunet::kernels {

// y = each window's maximum (the first in row-major order on ties, NaN wins); d_indices (may be
// null) receives its position h * W + w in the input plane.
template <typename T>
void max_pool2d_forward(const T* d_x, T* d_y, std::int32_t* d_indices,
                        const ops::pool2d::Geometry& g, cudaStream_t stream);
// grad_x[h, w] = the sum of grad_y over the outputs whose recorded maximum is (h, w).
template <typename T>
void max_pool2d_backward(const T* d_grad_y, const std::int32_t* d_indices, T* d_grad_x,
                         const ops::pool2d::Geometry& g, cudaStream_t stream);
// y = the mean over each window's input positions.
template <typename T>
void avg_pool2d_forward(const T* d_x, T* d_y, const ops::pool2d::Geometry& g, cudaStream_t stream);
// grad_x[h, w] = the sum over the windows containing (h, w) of grad_y / that window's count.
template <typename T>
void avg_pool2d_backward(const T* d_grad_y, T* d_grad_x, const ops::pool2d::Geometry& g,
                         cudaStream_t stream);

}  // namespace crunet::kernels
