// linear's bias kernels; the products go through cuBLAS (src/ops/cuda/linear.cpp).
// add_row_bias: y[r, c] += b[c], a grid-stride loop (int64) over the matrix, coalesced along c.
// sum_columns: grad_bias[c] = sum_r g[r, c]. Blocks of 32 x 8 threads own 32 adjacent columns:
// each of the 8 rows of threads walks every 8th row (a warp reads 32 consecutive values, so the
// loads coalesce), then the 8 partial sums meet in shared memory. No atomics: the order of the
// additions is fixed, so grad_bias is deterministic.
// float32, or bfloat16 storage with float sums rounded once at the end.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "linear.cuh"

namespace crunet::kernels {
namespace {

template <typename T>
__global__ void add_row_bias_kernel(T* d_y, const T* d_bias, std::int64_t cols,
                                    std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    store_value(d_y, i, load_value(d_y, i) + load_value(d_bias, i % cols));
  }
}

constexpr int kColumns = 32;
constexpr int kRowThreads = 8;

template <typename T>
__global__ void sum_columns_kernel(const T* d_g, T* d_out, std::int64_t rows, std::int64_t cols) {
  __shared__ float partial[kRowThreads][kColumns];
  for (std::int64_t col0 = blockIdx.x * static_cast<std::int64_t>(kColumns); col0 < cols;
       col0 += static_cast<std::int64_t>(gridDim.x) * kColumns) {
    const std::int64_t col = col0 + threadIdx.x;
    float sum = 0.0f;
    if (col < cols) {
      for (std::int64_t r = threadIdx.y; r < rows; r += kRowThreads) {
        sum += load_value(d_g, r * cols + col);
      }
    }
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
      float total = 0.0f;
      for (int i = 0; i < kRowThreads; ++i) total += partial[i][threadIdx.x];
      store_value(d_out, col, total);
    }
    __syncthreads();
  }
}

template <typename T>
void add_row_bias_any(T* d_y, const T* d_bias, std::int64_t rows, std::int64_t cols,
                      cudaStream_t stream) {
  const std::int64_t count = rows * cols;
  if (count == 0) return;
  add_row_bias_kernel<T><<<blocks_for(count), kThreads, 0, stream>>>(d_y, d_bias, cols, count);
  CRUNET_CUDA_CHECK_LAUNCH("add_row_bias_kernel");
}

template <typename T>
void sum_columns_any(const T* d_g, T* d_out, std::int64_t rows, std::int64_t cols,
                     cudaStream_t stream) {
  if (cols == 0) return;
  sum_columns_kernel<T><<<blocks_for(cols, kColumns), dim3(kColumns, kRowThreads), 0, stream>>>(
      d_g, d_out, rows, cols);
  CRUNET_CUDA_CHECK_LAUNCH("sum_columns_kernel");
}

}  // namespace

void add_row_bias(float* d_y, const float* d_bias, std::int64_t rows, std::int64_t cols,
                  cudaStream_t stream) {
  add_row_bias_any(d_y, d_bias, rows, cols, stream);
}
void add_row_bias(std::uint16_t* d_y, const std::uint16_t* d_bias, std::int64_t rows,
                  std::int64_t cols, cudaStream_t stream) {
  add_row_bias_any(d_y, d_bias, rows, cols, stream);
}

void sum_columns(const float* d_g, float* d_out, std::int64_t rows, std::int64_t cols,
                 cudaStream_t stream) {
  sum_columns_any(d_g, d_out, rows, cols, stream);
}
void sum_columns(const std::uint16_t* d_g, std::uint16_t* d_out, std::int64_t rows,
                 std::int64_t cols, cudaStream_t stream) {
  sum_columns_any(d_g, d_out, rows, cols, stream);
}

}  // namespace crunet::kernels
