#pragma once
// The cuBLAS handle of the calling thread for the current device, and a row-major sgemm on it.
#include <cublas_v2.h>

#include <cstdint>

namespace crunet::ops::cuda {

// Created on first use for each (thread, device) pair, as cuBLAS recommends; bound to
// crunet::cuda::current_stream(), in CUBLAS_DEFAULT_MATH (plain float32: no TF32 tensor cores for
// sgemm). The caller has made the device current (DeviceGuard).
cublasHandle_t cublas_handle();

// Row-major C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, with the same arguments as the
// CPU's ops::cpu::gemm. cuBLAS is column-major, and a row-major matrix read column-major is its
// transpose, so this computes C^T = op(B)^T op(A)^T: B and A swap places, m and n too.
void gemm_row_major(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n,
                    std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                    std::int64_t ldb, float beta, float* c, std::int64_t ldc);

}  // namespace crunet::ops::cuda
