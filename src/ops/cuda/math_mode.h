#pragma once
// What the calling thread's math mode (crunet/ops/math_mode.h) means for cuDNN and cuBLAS.
// float32 in kFp32: FMA only. float32 in kTf32: cuDNN's default math, which permits TF32 tensor
// cores on Ampere and later (CUDNN_FMA_MATH is what forbids them), and cuBLAS's
// CUBLAS_COMPUTE_32F_FAST_TF32. Never CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: it lets cuDNN convert
// float32 data to float16, whose range (6.5e4) gradients can leave. bfloat16 storage computes in
// float32 on tensor cores (CUDNN_TENSOR_OP_MATH, CUBLAS_COMPUTE_32F) whatever the mode.
#include <cublas_v2.h>
#include <cudnn.h>

#include "crunet/core/dtype.h"
#include "crunet/ops/math_mode.h"

namespace crunet::ops::cuda {

inline MathMode math_mode() { return cuda_math_mode(); }
using MathModeGuard = CudaMathModeGuard;

// The math type a convolution descriptor carries while cudnnFind measures its algorithms.
cudnnMathType_t conv_search_math(DType dtype, MathMode mode);
// Whether an algorithm measured with `math` may run in this mode: in kFp32 only FMA ones for
// float32 tensors; never ALLOW_CONVERSION.
bool conv_math_allowed(DType dtype, MathMode mode, cudnnMathType_t math);

cublasComputeType_t gemm_compute_type(DType dtype, MathMode mode);

}  // namespace crunet::ops::cuda
