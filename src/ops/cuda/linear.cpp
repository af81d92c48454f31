// linear on CUDA: the three matrix products through cuBLAS sgemm (row-major through the transposed
// call, cublas_handle.h), the bias through two small kernels (kernels/linear.cu). float32 only.
#include <cuda_runtime_api.h>

#include "../linear_backend.h"
#include "../op_checks.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "cublas_handle.h"
#include "linear.cuh"

namespace crunet::ops::cuda {
namespace {

// A product over an empty inner dimension is all zeros; cuBLAS need not be asked.
void zero_fill(const Tensor& t) {
  if (t.numel() > 0) {
    CRUNET_CUDA_CHECK(cudaMemsetAsync(t.data_ptr(), 0, t.nbytes(), crunet::cuda::current_stream()));
  }
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_dtype("linear", x, "x", DType::Float32);
  check_dtype("linear", weight, "weight", DType::Float32);
  if (bias.defined()) check_dtype("linear", bias, "bias", DType::Float32);
  const std::int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
  Tensor y = empty({n, out}, TensorOptions(DType::Float32, x.device()));
  if (y.numel() == 0) return y;
  crunet::cuda::DeviceGuard guard(x.device());
  if (in == 0) {
    zero_fill(y);
  } else {
    gemm_row_major(false, true, n, out, in, 1.0f, x.data<float>(), in, weight.data<float>(), in,
                   0.0f, y.data<float>(), out);
  }
  if (bias.defined()) {
    kernels::add_row_bias(y.data<float>(), bias.data<float>(), n, out,
                          crunet::cuda::current_stream());
  }
  return y;
}

Tensor linear_backward_input(const Tensor& grad_y, const Tensor& weight) {
  check_dtype("linear backward", grad_y, "grad_y", DType::Float32);
  const std::int64_t n = grad_y.size(0), out = weight.size(0), in = weight.size(1);
  Tensor grad_x = empty({n, in}, TensorOptions(DType::Float32, grad_y.device()));
  if (grad_x.numel() == 0) return grad_x;
  crunet::cuda::DeviceGuard guard(grad_y.device());
  if (out == 0) {
    zero_fill(grad_x);
    return grad_x;
  }
  gemm_row_major(false, false, n, in, out, 1.0f, grad_y.data<float>(), out, weight.data<float>(),
                 in, 0.0f, grad_x.data<float>(), in);
  return grad_x;
}

Tensor linear_backward_weight(const Tensor& grad_y, const Tensor& x) {
  check_dtype("linear backward", grad_y, "grad_y", DType::Float32);
  const std::int64_t n = x.size(0), in = x.size(1), out = grad_y.size(1);
  Tensor grad_w = empty({out, in}, TensorOptions(DType::Float32, grad_y.device()));
  if (grad_w.numel() == 0) return grad_w;
  crunet::cuda::DeviceGuard guard(grad_y.device());
  if (n == 0) {
    zero_fill(grad_w);
    return grad_w;
  }
  gemm_row_major(true, false, out, in, n, 1.0f, grad_y.data<float>(), out, x.data<float>(), in,
                 0.0f, grad_w.data<float>(), in);
  return grad_w;
}

Tensor linear_backward_bias(const Tensor& grad_y) {
  check_dtype("linear backward", grad_y, "grad_y", DType::Float32);
  const std::int64_t n = grad_y.size(0), out = grad_y.size(1);
  Tensor grad_b = empty({out}, TensorOptions(DType::Float32, grad_y.device()));
  crunet::cuda::DeviceGuard guard(grad_y.device());
  kernels::sum_columns(grad_y.data<float>(), grad_b.data<float>(), n, out,
                       crunet::cuda::current_stream());
  return grad_b;
}

}  // namespace crunet::ops::cuda
