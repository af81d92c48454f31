#include "crunet/ops/linear.h"

#include "crunet/autograd/node.h"
#include "linear_backend.h"
#include "op_checks.h"

namespace crunet::ops {
namespace {

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (x.device().is_cpu()) return cpu::linear_forward(x, weight, bias);
#if CRUNET_WITH_CUDA
  return cuda::linear_forward(x, weight, bias);
#else
  fail_no_backend("linear", x.device());
#endif
}

// Gradients of x, weight and bias; only those asked for are computed.
std::vector<Tensor> linear_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                    bool need_x, bool need_w, bool need_b) {
  std::vector<Tensor> grads(3);
  if (grad_y.device().is_cpu()) {
    if (need_x) grads[0] = cpu::linear_backward_input(grad_y, weight);
    if (need_w) grads[1] = cpu::linear_backward_weight(grad_y, x);
    if (need_b) grads[2] = cpu::linear_backward_bias(grad_y);
    return grads;
  }
#if CRUNET_WITH_CUDA
  if (need_x) grads[0] = cuda::linear_backward_input(grad_y, weight);
  if (need_w) grads[1] = cuda::linear_backward_weight(grad_y, x);
  if (need_b) grads[2] = cuda::linear_backward_bias(grad_y);
  return grads;
#else
  fail_no_backend("linear backward", grad_y.device());
#endif
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_rank("linear", x, "x", 2);
  check_rank("linear", weight, "weight", 2);
  check_floating("linear", x, "x");
  check_same_device("linear", x, "x", weight, "weight");
  check_same_dtype("linear", x, "x", weight, "weight");
  if (x.size(1) != weight.size(1)) {
    fail("linear", "x has shape " + shape_str(x.shape()) + " but weight has shape " +
                       shape_str(weight.shape()) + " (in_features must match)");
  }
  if (bias.defined()) {
    check_same_device("linear", x, "x", bias, "bias");
    if (bias.shape() != Shape{weight.size(0)}) {
      fail("linear", "bias has shape " + shape_str(bias.shape()) + ", expected [" +
                         std::to_string(weight.size(0)) + "] for weight " +
                         shape_str(weight.shape()));
    }
  }
  const Tensor xc = x.contiguous();
  const Tensor wc = weight.contiguous();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = linear_forward(xc, wc, bc);
  if (autograd::needs_grad({x, weight, bias})) {
    const bool need_x = x.requires_grad();
    const bool need_w = weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    autograd::record(
        "linear", y, {x, weight, bias},
        [need_x, need_w, need_b, saved_x = need_w ? xc.detach() : Tensor(),
         saved_w = need_x ? wc.detach() : Tensor()](const Tensor& grad) {
          return linear_backward(grad.contiguous(), saved_x, saved_w, need_x, need_w, need_b);
        });
  }
  return y;
}

}  // namespace crunet::ops
