#pragma once
// Row-major single-precision matrix product for the CPU ops:
//   C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C,  op(X) = X or X^T.
// oneDNN's sgemm where the build has oneDNN, else gemm_reference.
#include <cstdint>

namespace crunet::ops::cpu {

void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
          float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
          float beta, float* c, std::int64_t ldc);

// Plain loops with double accumulation: the reference the fast path is tested against.
void gemm_reference(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n,
                    std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                    std::int64_t ldb, float beta, float* c, std::int64_t ldc);

}  // namespace crunet::ops::cpu
