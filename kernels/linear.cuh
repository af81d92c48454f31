#pragma once
// linear's two custom kernels (kernels/linear.cu); the matrix products are cuBLAS's. float32, or
// bfloat16 storage (its bits, std::uint16_t, as common.cuh) with float32 arithmetic.
#include <cstdint>

#include <cuda_runtime_api.h>

namespace crunet::kernels {

// y[r, c] += bias[c] for a row-major [rows, cols] matrix.
void add_row_bias(float* d_y, const float* d_bias, std::int64_t rows, std::int64_t cols,
                  cudaStream_t stream);
void add_row_bias(std::uint16_t* d_y, const std::uint16_t* d_bias, std::int64_t rows,
                  std::int64_t cols, cudaStream_t stream);

// out[c] = sum over r of g[r, c] for a row-major [rows, cols] matrix (linear's grad_bias).
void sum_columns(const float* d_g, float* d_out, std::int64_t rows, std::int64_t cols,
                 cudaStream_t stream);
void sum_columns(const std::uint16_t* d_g, std::uint16_t* d_out, std::int64_t rows,
                 std::int64_t cols, cudaStream_t stream);

}  // namespace crunet::kernels
