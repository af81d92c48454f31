// conv2d on the CPU: oneDNN's primitives where the build has oneDNN, else the plain reference.
#include "../cast_backend.h"
#include "../conv2d_backend.h"
#include "../op_checks.h"
#include "conv2d_reference.h"
#if CRUNET_WITH_ONEDNN
#include "conv2d_onednn.h"
#endif

namespace crunet::ops::cpu {

// oneDNN takes NCHW or NHWC tensors and returns channels-last ones; the reference reads NCHW.
// bfloat16 goes to oneDNN only: check_cpu_compute_dtype refuses it in a build without oneDNN.
Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params) {
  check_cpu_compute_dtype("conv2d", x, "x");
#if CRUNET_WITH_ONEDNN
  return onednn::conv2d_forward(x, weight, bias, params);
#else
  return reference::conv2d_forward(x.contiguous(), weight, bias, params);
#endif
}

Tensor conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape,
                            const Conv2dParams& params) {
  check_cpu_compute_dtype("conv2d backward", grad_y, "grad_y");
#if CRUNET_WITH_ONEDNN
  return onednn::conv2d_backward_data(grad_y, weight, x_shape, params);
#else
  return reference::conv2d_backward_data(grad_y.contiguous(), weight, x_shape, params);
#endif
}

Tensor conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& params) {
  check_cpu_compute_dtype("conv2d backward", grad_y, "grad_y");
#if CRUNET_WITH_ONEDNN
  return onednn::conv2d_backward_weight(grad_y, x, weight_shape, params);
#else
  return reference::conv2d_backward_weight(grad_y.contiguous(), x.contiguous(), weight_shape,
                                           params);
#endif
}

// Sums of grad_y over N, H, W per channel: one plane at a time in float (vectorised), the planes
// added in double so that large batches and feature maps lose no precision.
Tensor conv2d_backward_bias(const Tensor& grad_y_any_layout) {
  if (grad_y_any_layout.dtype() == DType::BFloat16) {
    // Summed in float32, returned in the bias's type (rare: the zoo's convolutions have no bias).
    return cast(conv2d_backward_bias(cast(grad_y_any_layout, DType::Float32)), DType::BFloat16);
  }
  check_dtype("conv2d backward", grad_y_any_layout, "grad_y", DType::Float32);
  const Tensor grad_y =
      grad_y_any_layout.contiguous();  // rare: the zoo's convolutions have no bias
  const std::int64_t n = grad_y.size(0), c = grad_y.size(1);
  const std::int64_t area = grad_y.size(2) * grad_y.size(3);
  Tensor grad_b = empty({c});
  const float* gy = grad_y.data<float>();
  float* gb = grad_b.data<float>();
#pragma omp parallel for if (n * c * area > 32768)
  for (std::int64_t co = 0; co < c; ++co) {
    double total = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float* plane = gy + (i * c + co) * area;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (std::int64_t j = 0; j < area; ++j) sum += plane[j];
      total += sum;
    }
    gb[co] = static_cast<float>(total);
  }
  return grad_b;
}

}  // namespace crunet::ops::cpu
