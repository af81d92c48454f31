#include "crunet/ops/add.h"

#include "add_backend.h"
#include "crunet/autograd/node.h"
#include "op_checks.h"

namespace crunet::ops {

Tensor add(const Tensor& a, const Tensor& b) {
  check_floating("add", a, "a");
  check_floating("add", b, "b");
  check_same_shape("add", a, "a", b, "b");
  check_same_dtype("add", a, "a", b, "b");
  check_same_device("add", a, "a", b, "b");
  Tensor out;
  if (a.device().is_cpu()) {
    out = cpu::add_forward(backend_layout(a), backend_layout(b));
  } else {
#if CRUNET_WITH_CUDA
    out = cuda::add_forward(a.contiguous(), b.contiguous());
#else
    fail_no_backend("add", a.device());
#endif
  }
  if (autograd::needs_grad({a, b})) {
    const bool need_a = a.requires_grad();
    const bool need_b = b.requires_grad();
    autograd::record("add", out, {a, b}, [need_a, need_b](const Tensor& grad) {
      return std::vector<Tensor>{need_a ? grad : Tensor(), need_b ? grad : Tensor()};
    });
  }
  return out;
}

}  // namespace crunet::ops
