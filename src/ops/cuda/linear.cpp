// linear on CUDA: the three matrix products through cublasGemmEx (row-major through the
// transposed call, as cublas_handle.h explains), the bias through two small kernels
// (kernels/linear.cu). float32, or bfloat16 storage (CUDA_R_16BF) with float32 accumulation.
// float32 products compute in CUBLAS_COMPUTE_32F, or CUBLAS_COMPUTE_32F_FAST_TF32 when the
// thread's math mode is tf32 (math_mode.h).
#include <cuda_runtime_api.h>

#include "../linear_backend.h"
#include "../op_checks.h"
#include "core/cuda/cublas_library.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "cublas_handle.h"
#include "linear.cuh"
#include "math_mode.h"

namespace crunet::ops::cuda {
namespace {

// A product over an empty inner dimension is all zeros; cuBLAS need not be asked.
void zero_fill(const Tensor& t) {
  if (t.numel() > 0) {
    CRUNET_CUDA_CHECK(cudaMemsetAsync(t.data_ptr(), 0, t.nbytes(), crunet::cuda::current_stream()));
  }
}

void check_supported(const char* op, const Tensor& t, const char* name) {
  if (t.dtype() != DType::Float32 && t.dtype() != DType::BFloat16) {
    fail(op, std::string(name) + " is " + t.description() +
                 "; the CUDA backend supports float32 and bfloat16");
  }
}

// Row-major c[m, n] = op(a)[m, k] * op(b)[k, n] (alpha 1, beta 0), the three of c's dtype. cuBLAS
// is column-major and a row-major matrix read column-major is its transpose, so this computes
// c^T = op(b)^T op(a)^T: b and a swap places, m and n too.
void gemm_ex_row_major(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n,
                    std::int64_t k, const Tensor& a, std::int64_t lda, const Tensor& b,
                    std::int64_t ldb, const Tensor& c, std::int64_t ldc) {
  const cudaDataType_t type = c.dtype() == DType::BFloat16 ? CUDA_R_16BF : CUDA_R_32F;
  const float alpha = 1.0f, beta = 0.0f;
  CRUNET_CUBLAS_CHECK(crunet::cuda::cublas_library().gemm_ex(
      cublas_handle(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
      transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b.data_ptr(), type, ldb,
      a.data_ptr(), type, lda, &beta, c.data_ptr(), type, ldc,
      gemm_compute_type(c.dtype(), math_mode()), CUBLAS_GEMM_DEFAULT));
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_supported("linear", x, "x");
  check_same_dtype("linear", x, "x", weight, "weight");
  if (bias.defined()) check_same_dtype("linear", x, "x", bias, "bias");
  const std::int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
  Tensor y = empty({n, out}, TensorOptions(x.dtype(), x.device()));
  if (y.numel() == 0) return y;
  crunet::cuda::DeviceGuard guard(x.device());
  if (in == 0) {
    zero_fill(y);
  } else {
    gemm_ex_row_major(false, true, n, out, in, x, in, weight, in, y, out);
  }
  if (bias.defined()) {
    cudaStream_t stream = crunet::cuda::current_stream();
    if (y.dtype() == DType::Float32) {
      kernels::add_row_bias(y.data<float>(), bias.data<float>(), n, out, stream);
    } else {
      kernels::add_row_bias(static_cast<std::uint16_t*>(y.data_ptr()),
                            static_cast<const std::uint16_t*>(bias.data_ptr()), n, out, stream);
    }
  }
  return y;
}

Tensor linear_backward_input(const Tensor& grad_y, const Tensor& weight) {
  check_supported("linear backward", grad_y, "grad_y");
  check_same_dtype("linear backward", grad_y, "grad_y", weight, "weight");
  const std::int64_t n = grad_y.size(0), out = weight.size(0), in = weight.size(1);
  Tensor grad_x = empty({n, in}, TensorOptions(grad_y.dtype(), grad_y.device()));
  if (grad_x.numel() == 0) return grad_x;
  crunet::cuda::DeviceGuard guard(grad_y.device());
  if (out == 0) {
    zero_fill(grad_x);
    return grad_x;
  }
  gemm_ex_row_major(false, false, n, in, out, grad_y, out, weight, in, grad_x, in);
  return grad_x;
}

Tensor linear_backward_weight(const Tensor& grad_y, const Tensor& x) {
  check_supported("linear backward", grad_y, "grad_y");
  check_same_dtype("linear backward", grad_y, "grad_y", x, "x");
  const std::int64_t n = x.size(0), in = x.size(1), out = grad_y.size(1);
  Tensor grad_w = empty({out, in}, TensorOptions(grad_y.dtype(), grad_y.device()));
  if (grad_w.numel() == 0) return grad_w;
  crunet::cuda::DeviceGuard guard(grad_y.device());
  if (n == 0) {
    zero_fill(grad_w);
    return grad_w;
  }
  gemm_ex_row_major(true, false, out, in, n, grad_y, out, x, in, grad_w, in);
  return grad_w;
}

Tensor linear_backward_bias(const Tensor& grad_y) {
  check_supported("linear backward", grad_y, "grad_y");
  const std::int64_t n = grad_y.size(0), out = grad_y.size(1);
  Tensor grad_b = empty({out}, TensorOptions(grad_y.dtype(), grad_y.device()));
  crunet::cuda::DeviceGuard guard(grad_y.device());
  cudaStream_t stream = crunet::cuda::current_stream();
  if (grad_y.dtype() == DType::Float32) {
    kernels::sum_columns(grad_y.data<float>(), grad_b.data<float>(), n, out, stream);
  } else {
    kernels::sum_columns(static_cast<const std::uint16_t*>(grad_y.data_ptr()),
                         static_cast<std::uint16_t*>(grad_b.data_ptr()), n, out, stream);
  }
  return grad_b;
}

}  // namespace crunet::ops::cuda
