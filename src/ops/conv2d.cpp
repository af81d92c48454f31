#include "crunet/ops/conv2d.h"

#include <string>

#include "crunet/autograd/node.h"
#include "conv2d_backend.h"
#include "op_checks.h"

namespace crunet::ops {
namespace {

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& params) {
  if (x.device().is_cpu()) return cpu::conv2d_forward(x, weight, bias, params);
#if CRUNET_WITH_CUDA
  return cuda::conv2d_forward(x, weight, bias, params);
#else
  fail_no_backend("conv2d", x.device());
#endif
}

// Gradients of x, weight and bias; only those asked for are computed. Each is a fresh tensor:
// the engine accumulates the weight's and bias's into their .grad (a shared weight sums over its
// uses), and assigns x's.
std::vector<Tensor> conv2d_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                    const Shape& x_shape, const Shape& weight_shape,
                                    const Conv2dParams& params, bool need_x, bool need_w,
                                    bool need_b) {
  std::vector<Tensor> grads(3);
  if (grad_y.device().is_cpu()) {
    if (need_x) grads[0] = cpu::conv2d_backward_data(grad_y, weight, x_shape, params);
    if (need_w) grads[1] = cpu::conv2d_backward_weight(grad_y, x, weight_shape, params);
    if (need_b) grads[2] = cpu::conv2d_backward_bias(grad_y);
    return grads;
  }
#if CRUNET_WITH_CUDA
  if (need_x) grads[0] = cuda::conv2d_backward_data(grad_y, weight, x_shape, params);
  if (need_w) grads[1] = cuda::conv2d_backward_weight(grad_y, x, weight_shape, params);
  if (need_b) grads[2] = cuda::conv2d_backward_bias(grad_y);
  return grads;
#else
  fail_no_backend("conv2d backward", grad_y.device());
#endif
}

std::string describe(const Tensor& t) { return t.defined() ? t.description() : "undefined"; }

// Every conv2d error carries the whole call: the three tensors and the parameters.
[[noreturn]] void fail_call(const std::string& message, const Tensor& x, const Tensor& weight,
                            const Tensor& bias, const Conv2dParams& params) {
  fail("conv2d", message + " (x " + describe(x) + ", weight " + describe(weight) + ", bias " +
                     describe(bias) + ", stride " + std::to_string(params.stride) + ", padding " +
                     std::to_string(params.padding) + ", groups " +
                     std::to_string(params.groups) + ", dilation " +
                     std::to_string(params.dilation) + ")");
}

void check_call(const Tensor& x, const Tensor& weight, const Tensor& bias,
                const Conv2dParams& params) {
  auto fail_here = [&](const std::string& message) { fail_call(message, x, weight, bias, params); };
  if (!x.defined() || !weight.defined()) fail_here("x and weight must be defined");
  if (x.dim() != 4) fail_here("x must have 4 dimensions [N, C, H, W], got " + shape_str(x.shape()));
  if (weight.dim() != 4) {
    fail_here("weight must have 4 dimensions [Cout, Cin/groups, K, K], got " +
              shape_str(weight.shape()));
  }
  if (!is_floating(x.dtype())) fail_here("x must be a floating-point tensor");
  if (x.device() != weight.device()) fail_here("x and weight are on different devices");
  if (x.dtype() != weight.dtype()) fail_here("x and weight have different dtypes");
  if (params.stride < 1) fail_here("stride must be at least 1");
  if (params.padding < 0) fail_here("padding must not be negative");
  if (params.groups < 1) fail_here("groups must be at least 1");
  if (params.dilation != 1) fail_here("only dilation 1 is supported");
  const std::int64_t c_in = x.size(1), c_out = weight.size(0);
  if (weight.size(2) != weight.size(3)) fail_here("the kernel must be square");
  if (weight.size(2) < 1) fail_here("the kernel must not be empty");
  if (c_in % params.groups != 0) {
    fail_here("groups " + std::to_string(params.groups) + " does not divide the " +
              std::to_string(c_in) + " input channels of " + shape_str(x.shape()));
  }
  if (c_out % params.groups != 0) {
    fail_here("groups " + std::to_string(params.groups) + " does not divide the " +
              std::to_string(c_out) + " output channels of weight " +
              shape_str(weight.shape()));
  }
  if (weight.size(1) * params.groups != c_in) {
    fail_here("weight " + shape_str(weight.shape()) + " expects " +
              std::to_string(weight.size(1) * params.groups) + " input channels (" +
              std::to_string(weight.size(1)) + " per group x " + std::to_string(params.groups) +
              " groups) but x " + shape_str(x.shape()) + " has " + std::to_string(c_in));
  }
  if (bias.defined()) {
    if (bias.shape() != Shape{c_out}) {
      fail_here("bias has shape " + shape_str(bias.shape()) + ", expected [" +
                std::to_string(c_out) + "]");
    }
    if (bias.device() != x.device()) fail_here("bias and x are on different devices");
    if (bias.dtype() != x.dtype()) fail_here("bias and x have different dtypes");
  }
  const std::int64_t k = weight.size(2);
  if (conv2d_output_size(x.size(2), k, params) < 1 || conv2d_output_size(x.size(3), k, params) < 1) {
    fail_here("the output would be empty: a " + std::to_string(k) + "x" + std::to_string(k) +
              " kernel with padding " + std::to_string(params.padding) + " does not fit the " +
              std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) + " input");
  }
  if (x.size(0) < 1 || c_in < 1 || c_out < 1) fail_here("empty batch or channel dimension");
}

}  // namespace

std::int64_t conv2d_output_size(std::int64_t input, std::int64_t kernel,
                                const Conv2dParams& params) {
  if (params.stride < 1 || params.dilation < 1 || params.padding < 0) {
    fail("conv2d", "conv2d_output_size needs stride >= 1, dilation >= 1 and padding >= 0, got "
                   "stride " + std::to_string(params.stride) + ", dilation " +
                   std::to_string(params.dilation) + ", padding " +
                   std::to_string(params.padding));
  }
  const std::int64_t span = params.dilation * (kernel - 1) + 1;
  const std::int64_t room = input + 2 * params.padding - span;
  // C++ division truncates towards zero; a kernel that does not fit gives no output at all.
  return room < 0 ? 0 : room / params.stride + 1;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dParams& params) {
  check_call(x, weight, bias, params);
  const Tensor xc = backend_layout(x);
  const Tensor wc = weight.contiguous();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = conv2d_forward(xc, wc, bc, params);
  if (autograd::needs_grad({x, weight, bias})) {
    const bool need_x = x.requires_grad();
    const bool need_w = weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    // Backward needs x only for the weight gradient and the weight only for x's.
    autograd::record(
        "conv2d", y, {x, weight, bias},
        [need_x, need_w, need_b, params, x_shape = x.shape(), weight_shape = weight.shape(),
         saved_x = need_w ? xc.detach() : Tensor(),
         saved_w = need_x ? wc.detach() : Tensor()](const Tensor& grad) {
          return conv2d_backward(backend_layout(grad), saved_x, saved_w, x_shape, weight_shape,
                                 params, need_x, need_w, need_b);
        });
  }
  return y;
}

}  // namespace crunet::ops
