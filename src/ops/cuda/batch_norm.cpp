// batch_norm on CUDA through cuDNN in spatial mode (one mean and variance per channel over N, H,
// W): cudnnBatchNormalizationForwardTraining / ForwardInference / Backward. Two facts make cuDNN's
// semantics PyTorch's: its exponentialAverageFactor is PyTorch's momentum (running = (1 - f) *
// running + f * batch), and it updates the running variance with the unbiased batch variance, as
// PyTorch does. cuDNN saves 1 / sqrt(var + eps) where the backend contract keeps the biased var,
// so kernels/batch_norm.cu converts; it also has the evaluation-mode backward, which cuDNN lacks
// (its backward always differentiates through the batch statistics). float32 only for now.
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
                              "; the CUDA backend takes float32 for now");
  }
}

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

}  // namespace

BatchNormForward batch_norm_forward_training(const Tensor& x, const Tensor& weight,
                                             const Tensor& bias, const Tensor& running_mean,
                                             const Tensor& running_var, float momentum, float eps) {
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
  check_float32(grad_y, "grad_y");
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
