#include "cublas_handle.h"

#include <vector>

#include "core/cuda/cublas_library.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"

namespace crunet::ops::cuda {
namespace {

// The calling thread's handles, one per device index; destroyed when the thread ends.
struct ThreadHandles {
  std::vector<cublasHandle_t> handles;
  ~ThreadHandles() {
    for (cublasHandle_t handle : handles) {
      // Errors at process exit are of no use to anyone. A handle exists only once the library
      // was opened.
      if (handle) crunet::cuda::cublas_library().destroy(handle);
    }
  }
};

}  // namespace

cublasHandle_t cublas_handle() {
  thread_local ThreadHandles local;
  int device = 0;
  CRUNET_CUDA_CHECK(cudaGetDevice(&device));
  if (local.handles.size() <= static_cast<std::size_t>(device)) {
    local.handles.resize(static_cast<std::size_t>(device) + 1, nullptr);
  }
  cublasHandle_t& handle = local.handles[static_cast<std::size_t>(device)];
  const crunet::cuda::CublasLibrary& cublas = crunet::cuda::cublas_library();
  if (!handle) {
    CRUNET_CUBLAS_CHECK(cublas.create(&handle));
    CRUNET_CUBLAS_CHECK(cublas.set_math_mode(handle, CUBLAS_DEFAULT_MATH));
  }
  CRUNET_CUBLAS_CHECK(cublas.set_stream(handle, crunet::cuda::current_stream()));
  return handle;
}

void gemm_row_major(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n,
                    std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                    std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  CRUNET_CUBLAS_CHECK(crunet::cuda::cublas_library().sgemm(
      cublas_handle(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
      transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc));
}

}  // namespace crunet::ops::cuda
