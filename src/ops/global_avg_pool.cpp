#include "crunet/ops/global_avg_pool.h"

#include "crunet/autograd/node.h"
#include "global_avg_pool_backend.h"
#include "op_checks.h"

namespace crunet::ops {
namespace {

Tensor global_avg_pool_forward(const Tensor& x) {
  if (x.device().is_cpu()) return cpu::global_avg_pool_forward(x);
#if CRUNET_WITH_CUDA
  return cuda::global_avg_pool_forward(x);
#else
  fail_no_backend("global_avg_pool", x.device());
#endif
}

Tensor global_avg_pool_backward(const Tensor& grad_y, const Shape& x_shape,
                                MemoryFormat x_format) {
  if (grad_y.device().is_cpu()) return cpu::global_avg_pool_backward(grad_y, x_shape, x_format);
#if CRUNET_WITH_CUDA
  return cuda::global_avg_pool_backward(grad_y, x_shape);
#else
  fail_no_backend("global_avg_pool backward", grad_y.device());
#endif
}

}  // namespace

Tensor global_avg_pool(const Tensor& x) {
  check_rank("global_avg_pool", x, "x", 4);
  check_floating("global_avg_pool", x, "x");
  if (x.size(2) * x.size(3) == 0) fail("global_avg_pool", "empty spatial extent in " + shape_str(x.shape()));
  const Tensor xc = backend_layout(x);
  Tensor y = global_avg_pool_forward(xc);
  if (autograd::needs_grad({x})) {
    autograd::record("global_avg_pool", y, {x},
                     [x_shape = x.shape(), x_format = xc.memory_format()](const Tensor& grad) {
                       return std::vector<Tensor>{
                           global_avg_pool_backward(grad.contiguous(), x_shape, x_format)};
                     });
  }
  return y;
}

}  // namespace crunet::ops
