#include "math_mode.h"

namespace crunet::ops::cuda {

cudnnMathType_t conv_search_math(DType dtype, MathMode mode) {
  if (dtype == DType::BFloat16) return CUDNN_TENSOR_OP_MATH;
  return mode == MathMode::kTf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

bool conv_math_allowed(DType dtype, MathMode mode, cudnnMathType_t math) {
  if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  if (dtype == DType::Float32 && mode == MathMode::kFp32) return math == CUDNN_FMA_MATH;
  return true;
}

cublasComputeType_t gemm_compute_type(DType dtype, MathMode mode) {
  if (dtype == DType::Float32 && mode == MathMode::kTf32) return CUBLAS_COMPUTE_32F_FAST_TF32;
  return CUBLAS_COMPUTE_32F;
}

}  // namespace crunet::ops::cuda
