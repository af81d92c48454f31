#include "crunet/ops/relu.h"

#include "crunet/autograd/node.h"
#include "op_checks.h"
#include "relu_backend.h"

namespace crunet::ops {
namespace {

Tensor relu_forward(const Tensor& x) {
  if (x.device().is_cpu()) return cpu::relu_forward(x);
#if CRUNET_WITH_CUDA
  return cuda::relu_forward(x);
#else
  fail_no_backend("relu", x.device());
#endif
}

Tensor relu_backward(const Tensor& grad_y, const Tensor& y) {
  if (y.device().is_cpu()) return cpu::relu_backward(grad_y, y);
#if CRUNET_WITH_CUDA
  return cuda::relu_backward(grad_y, y);
#else
  fail_no_backend("relu backward", y.device());
#endif
}

}  // namespace

Tensor relu(const Tensor& x) {
  check_floating("relu", x, "x");
  Tensor y = relu_forward(backend_layout(x));
  if (autograd::needs_grad({x})) {
    autograd::record("relu", y, {x}, [saved_y = y.detach()](const Tensor& grad_y) {
      return std::vector<Tensor>{relu_backward(backend_layout(grad_y), saved_y)};
    });
  }
  return y;
}

}  // namespace crunet::ops
