// linear's bias kernels; the products go through cuBLAS (src/ops/cuda/linear.cpp).
// add_row_bias: y[r, c] += b[c], a grid-stride loop (int64) over the matrix, coalesced along c.
// sum_columns: grad_bias[c] = sum_r g[r, c]. Blocks of 32 x 8 threads own 32 adjacent columns:
// each of the 8 rows of threads walks every 8th row (a warp reads 32 consecutive floats, so the
// loads coalesce), then the 8 partial sums meet in shared memory. No atomics: the order of the
// additions is fixed, so grad_bias is deterministic.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "linear.cuh"

namespace crunet::kernels {
namespace {

__global__ void add_row_bias_kernel(float* d_y, const float* d_bias, std::int64_t cols,
                                    std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    d_y[i] += d_bias[i % cols];
  }
}

constexpr int kColumns = 32;
constexpr int kRowThreads = 8;

__global__ void sum_columns_kernel(const float* d_g, float* d_out, std::int64_t rows,
                                   std::int64_t cols) {
  __shared__ float partial[kRowThreads][kColumns];
  for (std::int64_t col0 = blockIdx.x * static_cast<std::int64_t>(kColumns); col0 < cols;
       col0 += static_cast<std::int64_t>(gridDim.x) * kColumns) {
    const std::int64_t col = col0 + threadIdx.x;
    float sum = 0.0f;
    if (col < cols) {
      for (std::int64_t r = threadIdx.y; r < rows; r += kRowThreads) sum += d_g[r * cols + col];
    }
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
      float total = 0.0f;
      for (int i = 0; i < kRowThreads; ++i) total += partial[i][threadIdx.x];
      d_out[col] = total;
    }
    __syncthreads();
  }
}

}  // namespace

void add_row_bias(float* d_y, const float* d_bias, std::int64_t rows, std::int64_t cols,
                  cudaStream_t stream) {
  const std::int64_t count = rows * cols;
  if (count == 0) return;
  add_row_bias_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_y, d_bias, cols, count);
  CRUNET_CUDA_CHECK_LAUNCH("add_row_bias_kernel");
}

void sum_columns(const float* d_g, float* d_out, std::int64_t rows, std::int64_t cols,
                 cudaStream_t stream) {
  if (cols == 0) return;
  sum_columns_kernel<<<blocks_for(cols, kColumns), dim3(kColumns, kRowThreads), 0, stream>>>(
      d_g, d_out, rows, cols);
  CRUNET_CUDA_CHECK_LAUNCH("sum_columns_kernel");
}

}  // namespace crunet::kernels
