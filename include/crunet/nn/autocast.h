#pragma once
// The bfloat16 precision mode, as PyTorch's autocast but explicit and small: a thread-local
// policy that a scoped guard sets, consulted by the two layers whose inputs change type.
//
//   { nn::AutocastGuard guard(DType::BFloat16);  loss = cross_entropy(model(x), y); }
//   loss.backward();  // the graph remembers its casts; the guard is not needed here
//
// Under bfloat16, convolutions (nn::Conv2d and the CRU's shared factors) cast x and their float32
// weights to bfloat16 through ops::cast, so activations are bfloat16 and each weight's gradient
// reaches its float32 master as float32. Batch norm takes bfloat16 x with float32 weight, bias
// and running statistics and returns bfloat16; relu, add and the pools keep their input's type.
// Linear runs in float32 (its input is cast up): the head is a tiny share of the work, and float32
// logits keep the softmax and the loss free of bfloat16's 8-bit rounding. cross_entropy always
// computes in float32. The optimiser updates the float32 masters.
#include "crunet/core/tensor.h"
#include "crunet/ops/conv2d.h"

namespace crunet::nn {

// The type convolutions run in on this thread: float32 (no autocast) or bfloat16.
DType autocast_dtype();
inline bool autocast_enabled() { return autocast_dtype() != DType::Float32; }

// Sets this thread's autocast type (float32 or bfloat16) for its lifetime; guards nest.
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  DType previous_;
};

// ops::conv2d under the policy: x, weight and bias (where defined) cast to autocast_dtype() first.
// Without autocast it is ops::conv2d itself.
Tensor autocast_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                       const ops::Conv2dParams& params = {});
// ops::linear under the policy: in float32, x cast to the weight's type when autocast is on.
Tensor autocast_linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace crunet::nn
