// max_pool2d and avg_pool2d: checks, dispatch and autograd for both 2-d window pools.
#include "crunet/ops/max_pool2d.h"

#include "crunet/autograd/node.h"
#include "op_checks.h"
#include "pool2d_backend.h"

namespace crunet::ops {
namespace {

MaxPool2dForward max_pool2d_forward(const Tensor& x, const Pool2dParams& params,
                                    bool for_backward) {
  if (x.device().is_cpu()) return cpu::max_pool2d_forward(x, params, for_backward);
#if CRUNET_WITH_CUDA
  return cuda::max_pool2d_forward(x, params, for_backward);
#else
  fail_no_backend("max_pool2d", x.device());
#endif
}

Tensor max_pool2d_backward(const Tensor& grad_y, const Tensor& saved, const Shape& x_shape,
                           MemoryFormat x_format, const Pool2dParams& params) {
  if (grad_y.device().is_cpu()) {
    return cpu::max_pool2d_backward(grad_y, saved, x_shape, x_format, params);
  }
#if CRUNET_WITH_CUDA
  return cuda::max_pool2d_backward(grad_y, saved, x_shape, params);
#else
  fail_no_backend("max_pool2d backward", grad_y.device());
#endif
}

Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& params) {
  if (x.device().is_cpu()) return cpu::avg_pool2d_forward(x, params);
#if CRUNET_WITH_CUDA
  return cuda::avg_pool2d_forward(x, params);
#else
  fail_no_backend("avg_pool2d", x.device());
#endif
}

Tensor avg_pool2d_backward(const Tensor& grad_y, const Shape& x_shape, MemoryFormat x_format,
                           const Pool2dParams& params) {
  if (grad_y.device().is_cpu()) return cpu::avg_pool2d_backward(grad_y, x_shape, x_format, params);
#if CRUNET_WITH_CUDA
  return cuda::avg_pool2d_backward(grad_y, x_shape, params);
#else
  fail_no_backend("avg_pool2d backward", grad_y.device());
#endif
}

std::string params_str(const Pool2dParams& p) {
  return "kernel " + std::to_string(p.kernel) + ", stride " + std::to_string(p.stride) +
         ", padding " + std::to_string(p.padding);
}

// The parameters alone: positive kernel and stride, padding in [0, kernel / 2] as PyTorch
// requires (so that no window lies wholly in the padding). `context` ends the message.
void check_params(const char* op, const Pool2dParams& p, const std::string& context) {
  if (p.kernel <= 0 || p.stride <= 0) {
    fail(op, "kernel and stride must be positive, got " + params_str(p) + context);
  }
  if (p.padding < 0 || p.padding > p.kernel / 2) {
    fail(op, "padding must be between 0 and kernel / 2 = " + std::to_string(p.kernel / 2) +
                 ", got " + params_str(p) + context);
  }
}

// x [N, C, H, W] of a floating type, valid parameters, at least one window in each direction.
void check_pool(const char* op, const Tensor& x, const Pool2dParams& p) {
  check_rank(op, x, "x", 4);
  check_floating(op, x, "x");
  const std::string context = "; x has shape " + shape_str(x.shape());
  check_params(op, p, context);
  for (int d = 2; d < 4; ++d) {
    if (x.size(d) + 2 * p.padding < p.kernel) {
      fail(op, "input too small for the window: " + params_str(p) + context);
    }
  }
}

}  // namespace

std::int64_t pool2d_output_size(std::int64_t input, const Pool2dParams& params) {
  check_params("pool2d_output_size", params, "; input size " + std::to_string(input));
  if (input + 2 * params.padding < params.kernel) {
    fail("pool2d_output_size",
         "input size " + std::to_string(input) + " too small for " + params_str(params));
  }
  return (input + 2 * params.padding - params.kernel) / params.stride + 1;
}

Tensor max_pool2d(const Tensor& x, const Pool2dParams& params) {
  check_pool("max_pool2d", x, params);
  const bool record = autograd::needs_grad({x});
  const Tensor xc = backend_layout(x);
  MaxPool2dForward out = max_pool2d_forward(xc, params, record);
  if (record) {
    autograd::record("max_pool2d", out.y, {x},
                     [saved = out.saved, x_shape = x.shape(), x_format = xc.memory_format(),
                      params](const Tensor& grad) {
                       return std::vector<Tensor>{max_pool2d_backward(backend_layout(grad), saved,
                                                                      x_shape, x_format, params)};
                     });
  }
  return out.y;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& params) {
  check_pool("avg_pool2d", x, params);
  const Tensor xc = backend_layout(x);
  Tensor y = avg_pool2d_forward(xc, params);
  if (autograd::needs_grad({x})) {
    autograd::record(
        "avg_pool2d", y, {x},
        [x_shape = x.shape(), x_format = xc.memory_format(), params](const Tensor& grad) {
          return std::vector<Tensor>{
              avg_pool2d_backward(backend_layout(grad), x_shape, x_format, params)};
        });
  }
  return y;
}

}  // namespace crunet::ops
