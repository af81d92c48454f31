#include "crunet/ops/cast.h"

#include "cast_backend.h"
#include "crunet/autograd/node.h"
#include "op_checks.h"

namespace crunet::ops {
namespace {

bool castable(DType dtype) { return dtype == DType::Float32 || dtype == DType::BFloat16; }

Tensor cast_forward(const Tensor& x, DType dtype) {
  if (x.device().is_cpu()) return cpu::cast(x, dtype);
#if CRUNET_WITH_CUDA
  return cuda::cast(x, dtype);
#else
  fail_no_backend("cast", x.device());
#endif
}

}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  check_defined("cast", x, "x");
  if (x.dtype() == dtype) return x;
  if (!castable(x.dtype()) || !castable(dtype)) {
    fail("cast", std::string("converts between float32 and bfloat16 only, asked for ") +
                     dtype_name(dtype) + " from " + x.description());
  }
  Tensor y = cast_forward(backend_layout(x), dtype);
  if (autograd::needs_grad({x})) {
    // The gradient goes back in x's type: a float32 master weight receives a float32 gradient.
    autograd::record("cast", y, {x}, [source = x.dtype()](const Tensor& grad) {
      return std::vector<Tensor>{cast_forward(backend_layout(grad), source)};
    });
  }
  return y;
}

}  // namespace crunet::ops
