#include "crunet/nn/autocast.h"

#include "crunet/core/error.h"
#include "crunet/ops/cast.h"
#include "crunet/ops/linear.h"

namespace crunet::nn {
namespace {

thread_local DType current_dtype = DType::Float32;

// A floating tensor in the policy's type; integer and undefined tensors pass unchanged.
Tensor to_policy(const Tensor& t, DType dtype) {
  if (!t.defined() || !is_floating(t.dtype()) || t.dtype() == dtype) return t;
  return ops::cast(t, dtype);
}

}  // namespace

DType autocast_dtype() { return current_dtype; }

AutocastGuard::AutocastGuard(DType dtype) : previous_(current_dtype) {
  if (dtype != DType::Float32 && dtype != DType::BFloat16) {
    throw ValueError(std::string("AutocastGuard: autocast runs in float32 or bfloat16, not ") +
                     dtype_name(dtype));
  }
  current_dtype = dtype;
}

AutocastGuard::~AutocastGuard() { current_dtype = previous_; }

Tensor autocast_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const ops::Conv2dParams& params) {
  const DType dtype = current_dtype;
  if (dtype == DType::Float32) return ops::conv2d(x, weight, bias, params);
  return ops::conv2d(to_policy(x, dtype), to_policy(weight, dtype), to_policy(bias, dtype), params);
}

Tensor autocast_linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (current_dtype == DType::Float32 || !weight.defined()) return ops::linear(x, weight, bias);
  return ops::linear(to_policy(x, weight.dtype()), weight, bias);
}

}  // namespace crunet::nn
