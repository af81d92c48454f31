// batch_norm on CUDA. float32: through cuDNN in spatial mode (one mean and variance per channel
// over N, H, W): cudnnBatchNormalizationForwardTraining / ForwardInference / Backward. Two facts
// make cuDNN's semantics PyTorch's: its exponentialAverageFactor is PyTorch's momentum (running =
// (1 - f) * running + f * batch), and it updates the running variance with the unbiased batch
// variance, as PyTorch does. cuDNN saves 1 / sqrt(var + eps) where the backend contract keeps the
// biased var, so kernels/batch_norm.cu converts; it also has the evaluation-mode backward, which
// cuDNN lacks (its backward always differentiates through the batch statistics).
// bfloat16 x (the bfloat16 precision mode): kernels/batch_norm.cu alone, with float32 weight, bias,
// running and batch statistics and float32 arithmetic; y and grad_x are bfloat16, the weight's and
// bias's gradients float32. cuDNN's legacy batch norm is not documented for bfloat16 data.
#include "../batch_norm_backend.h"
#include "../op_checks.h"
#include "batch_norm.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "cudnn_common.h"

namespace crunet::ops::cuda {
namespace {

constexpr cudnnBatchNormMode_t kMode = CUDNN_BATCHNORM_SPATIAL;
const float kOne = 1.0f;
const float kZero = 0.0f;

void check_float32(const Tensor& t, const char* name) {
  if (t.defined() && t.dtype() != DType::Float32) {
    throw NotImplementedError(std::string("batch_norm: ") + name + " is " + t.description() +
                              "; the CUDA backend takes float32 x, or bfloat16 x with float32 "
                              "weight and bias");
  }
}

bool is_bfloat16(const Tensor& t) { return t.dtype() == DType::BFloat16; }

using Bf16 = std::uint16_t;
const Bf16* bf16_pointer(const Tensor& t) {
  return t.defined() ? static_cast<const Bf16*>(t.data_ptr()) : nullptr;
}
Bf16* bf16_output(const Tensor& t) { return static_cast<Bf16*>(t.data_ptr()); }
float* float_output(const Tensor& t) { return t.defined() ? static_cast<float*>(t.data_ptr()) : nullptr; }

const float* pointer(const Tensor& t) {
  return t.defined() ? static_cast<const float*>(t.data_ptr()) : nullptr;
}

// cuDNN needs a scale and a shift; an absent weight is 1 and an absent bias 0.
Tensor or_filled(const Tensor& t, std::int64_t channels, double value, const Device& device) {
  return t.defined() ? t : full({channels}, value, TensorOptions(DType::Float32, device));
}

Tensor channel_vector(std::int64_t channels, const Device& device) {
  return empty({channels}, TensorOptions(DType::Float32, device));
}

// The bfloat16 path: x, y, grad_y and grad_x bfloat16; everything per channel float32.
BatchNormForward bfloat16_forward_training(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                           const Tensor& running_mean, const Tensor& running_var,
                                           float momentum, float eps) {
  check_float32(weight, "weight");
  check_float32(bias, "bias");
  const std::int64_t batch = x.size(0), channels = x.size(1), area = x.size(2) * x.size(3);
  const Device device = x.device();
  BatchNormForward out;
  out.y = empty_like(x);
  out.mean = channel_vector(channels, device);
  out.var = channel_vector(channels, device);
  const Tensor invstd = channel_vector(channels, device);
  crunet::cuda::DeviceGuard guard(device);
  cudaStream_t stream = crunet::cuda::current_stream();
  kernels::bn_batch_statistics(bf16_pointer(x), float_output(out.mean), float_output(out.var),
                               float_output(running_mean), float_output(running_var), momentum,
                               batch, channels, area, stream);
  kernels::bn_var_to_invstd(pointer(out.var), float_output(invstd), channels, eps, stream);
  kernels::bn_normalize(bf16_pointer(x), pointer(out.mean), pointer(invstd), pointer(weight),
                        pointer(bias), bf16_output(out.y), batch, channels, area, stream);
  return out;
}

Tensor bfloat16_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& running_mean, const Tensor& running_var, float eps) {
  check_float32(weight, "weight");
  check_float32(bias, "bias");
  const std::int64_t batch = x.size(0), channels = x.size(1), area = x.size(2) * x.size(3);
  Tensor y = empty_like(x);
  const Tensor invstd = channel_vector(channels, x.device());
  crunet::cuda::DeviceGuard guard(x.device());
  cudaStream_t stream = crunet::cuda::current_stream();
  kernels::bn_var_to_invstd(pointer(running_var), float_output(invstd), channels, eps, stream);
  kernels::bn_normalize(bf16_pointer(x), pointer(running_mean), pointer(invstd), pointer(weight),
                        pointer(bias), bf16_output(y), batch, channels, area, stream);
  return y;
}

BatchNormGrads bfloat16_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                 const Tensor& mean, const Tensor& var, float eps, bool training,
                                 bool need_x, bool need_w, bool need_b) {
  check_float32(weight, "weight");
  if (x.defined() && !is_bfloat16(x)) {
    throw NotImplementedError("batch_norm backward: grad_y is " + grad_y.description() +
                              " but x is " + x.description());
  }
  const std::int64_t batch = grad_y.size(0), channels = grad_y.size(1);
  const std::int64_t area = grad_y.size(2) * grad_y.size(3);
  const Device device = grad_y.device();
  crunet::cuda::DeviceGuard guard(device);
  cudaStream_t stream = crunet::cuda::current_stream();
  BatchNormGrads grads;
  const bool need_stats = need_x || need_w;
  Tensor invstd;
  if (need_stats) {
    invstd = channel_vector(channels, device);
    kernels::bn_var_to_invstd(pointer(var), float_output(invstd), channels, eps, stream);
  }
  // grad_b = sum dy and grad_w = sum dy * xhat; training's grad_x needs both.
  const bool need_sums = need_w || need_b || (training && need_x);
  const bool need_xhat_sum = need_w || (training && need_x);
  Tensor sum_dy, sum_dy_xhat;
  if (need_sums) {
    sum_dy = channel_vector(channels, device);
    if (need_xhat_sum) sum_dy_xhat = channel_vector(channels, device);
    kernels::bn_channel_sums(bf16_pointer(grad_y), need_xhat_sum ? bf16_pointer(x) : nullptr,
                             need_xhat_sum ? pointer(mean) : nullptr, pointer(invstd),
                             float_output(sum_dy), float_output(sum_dy_xhat), batch, channels,
                             area, stream);
  }
  if (need_x) {
    grads.x = empty_like(grad_y);
    if (training) {
      kernels::bn_backward_data(bf16_pointer(grad_y), bf16_pointer(x), pointer(mean),
                                pointer(invstd), pointer(weight), pointer(sum_dy),
                                pointer(sum_dy_xhat), bf16_output(grads.x), batch, channels, area,
                                stream);
    } else {
      kernels::bn_scale_grad(bf16_pointer(grad_y), pointer(weight), pointer(invstd),
                             bf16_output(grads.x), batch, channels, area, stream);
    }
  }
  if (need_w) grads.weight = sum_dy_xhat;
  if (need_b) grads.bias = sum_dy;
  return grads;
}

}  // namespace

BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps) {
  if (is_bfloat16(x)) {
    return bfloat16_forward_training(x, weight, bias, running_mean, running_var, momentum, eps);
  }
  check_float32(x, "x");
  check_float32(weight, "weight");
  check_float32(bias, "bias");
  check_cudnn_size("batch_norm", x);
  const std::int64_t channels = x.size(1);
  const Device device = x.device();
  BatchNormForward out;
  out.y = empty_like(x);
  out.mean = channel_vector(channels, device);
  out.var = channel_vector(channels, device);
  const Tensor invstd = channel_vector(channels, device);
  const Tensor scale = or_filled(weight, channels, 1.0, device);
  const Tensor shift = or_filled(bias, channels, 0.0, device);
  crunet::cuda::DeviceGuard guard(device);
  TensorDescriptor xd(x.shape()), cd(Shape{channels});
  CRUNET_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cudnn_handle(), kMode, &kOne, &kZero, xd.get(), x.data_ptr(), xd.get(), out.y.data_ptr(),
      cd.get(), scale.data_ptr(), shift.data_ptr(), static_cast<double>(momentum),
      running_mean.defined() ? running_mean.data_ptr() : nullptr,
      running_var.defined() ? running_var.data_ptr() : nullptr, static_cast<double>(eps),
      out.mean.data_ptr(), invstd.data_ptr()));
  kernels::bn_invstd_to_var(pointer(invstd), static_cast<float*>(out.var.data_ptr()), channels,
                            eps, crunet::cuda::current_stream());
  return out;
}

Tensor batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, float eps) {
  if (is_bfloat16(x)) return bfloat16_forward_eval(x, weight, bias, running_mean, running_var, eps);
  check_float32(x, "x");
  check_float32(weight, "weight");
  check_float32(bias, "bias");
  check_cudnn_size("batch_norm", x);
  const std::int64_t channels = x.size(1);
  Tensor y = empty_like(x);
  const Tensor scale = or_filled(weight, channels, 1.0, x.device());
  const Tensor shift = or_filled(bias, channels, 0.0, x.device());
  crunet::cuda::DeviceGuard guard(x.device());
  TensorDescriptor xd(x.shape()), cd(Shape{channels});
  CRUNET_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      cudnn_handle(), kMode, &kOne, &kZero, xd.get(), x.data_ptr(), xd.get(), y.data_ptr(),
      cd.get(), scale.data_ptr(), shift.data_ptr(), running_mean.data_ptr(),
      running_var.data_ptr(), static_cast<double>(eps)));
  return y;
}

BatchNormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, float eps, bool training,
                                   bool need_x, bool need_w, bool need_b) {
  if (is_bfloat16(grad_y)) {
    return bfloat16_backward(grad_y, x, weight, mean, var, eps, training, need_x, need_w, need_b);
  }
  check_float32(grad_y, "grad_y");
  check_float32(x, "x");  // a float32 gradient for a bfloat16 x would reach cuDNN mislabelled
  check_cudnn_size("batch_norm backward", grad_y);
  const std::int64_t batch = grad_y.size(0), channels = grad_y.size(1);
  const std::int64_t area = grad_y.size(2) * grad_y.size(3);
  const Device device = grad_y.device();
  crunet::cuda::DeviceGuard guard(device);
  cudaStream_t stream = crunet::cuda::current_stream();
  BatchNormGrads grads;
  Tensor invstd;
  if (need_x || need_w) {
    invstd = channel_vector(channels, device);
    kernels::bn_var_to_invstd(pointer(var), static_cast<float*>(invstd.data_ptr()), channels, eps,
                              stream);
  }

  if (training && (need_x || need_w)) {
    // cuDNN computes all three gradients at once; those not asked for are dropped.
    const Tensor scale = or_filled(weight, channels, 1.0, device);
    Tensor grad_x = empty_like(grad_y);
    Tensor grad_w = channel_vector(channels, device);
    Tensor grad_b = channel_vector(channels, device);
    TensorDescriptor xd(grad_y.shape()), cd(Shape{channels});
    CRUNET_CUDNN_CHECK(cudnnBatchNormalizationBackward(
        cudnn_handle(), kMode, &kOne, &kZero, &kOne, &kZero, xd.get(), x.data_ptr(), xd.get(),
        grad_y.data_ptr(), xd.get(), grad_x.data_ptr(), cd.get(), scale.data_ptr(),
        grad_w.data_ptr(), grad_b.data_ptr(), static_cast<double>(eps), mean.data_ptr(),
        invstd.data_ptr()));
    if (need_x) grads.x = grad_x;
    if (need_w) grads.weight = grad_w;
    if (need_b) grads.bias = grad_b;
    return grads;
  }

  // Evaluation mode (or training with only the bias asked for): the statistics are constants.
  if (need_x) {
    grads.x = empty_like(grad_y);
    kernels::bn_scale_grad(pointer(grad_y), pointer(weight), pointer(invstd),
                           static_cast<float*>(grads.x.data_ptr()), batch, channels, area, stream);
  }
  if (need_w || need_b) {
    Tensor sum_dy = channel_vector(channels, device);
    Tensor sum_dy_xhat = need_w ? channel_vector(channels, device) : Tensor();
    kernels::bn_channel_sums(pointer(grad_y), pointer(x), pointer(mean), pointer(invstd),
                             static_cast<float*>(sum_dy.data_ptr()),
                             need_w ? static_cast<float*>(sum_dy_xhat.data_ptr()) : nullptr,
                             batch, channels, area, stream);
    if (need_w) grads.weight = sum_dy_xhat;
    if (need_b) grads.bias = sum_dy;
  }
  return grads;
}

}  // namespace crunet::ops::cuda
