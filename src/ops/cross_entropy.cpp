#include "crunet/ops/cross_entropy.h"

#include "crunet/autograd/node.h"
#include "crunet/ops/cast.h"
#include "cross_entropy_backend.h"
#include "op_checks.h"

namespace crunet::ops {
namespace {

std::pair<Tensor, Tensor> cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                                float smoothing) {
  if (logits.device().is_cpu()) return cpu::cross_entropy_forward(logits, targets, smoothing);
#if CRUNET_WITH_CUDA
  return cuda::cross_entropy_forward(logits, targets, smoothing);
#else
  fail_no_backend("cross_entropy", logits.device());
#endif
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& probabilities,
                              const Tensor& targets, float smoothing) {
  if (probabilities.device().is_cpu()) {
    return cpu::cross_entropy_backward(grad_loss, probabilities, targets, smoothing);
  }
#if CRUNET_WITH_CUDA
  return cuda::cross_entropy_backward(grad_loss, probabilities, targets, smoothing);
#else
  fail_no_backend("cross_entropy backward", probabilities.device());
#endif
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const CrossEntropyParams& params) {
  check_rank("cross_entropy", logits, "logits", 2);
  check_floating("cross_entropy", logits, "logits");
  check_rank("cross_entropy", targets, "targets", 1);
  check_dtype("cross_entropy", targets, "targets", DType::Int64);
  check_same_device("cross_entropy", logits, "logits", targets, "targets");
  if (targets.size(0) != logits.size(0)) {
    fail("cross_entropy", "logits have shape " + shape_str(logits.shape()) + " but targets have " +
                              shape_str(targets.shape()) + " (batch sizes differ)");
  }
  if (logits.size(0) == 0) fail("cross_entropy", "empty batch");
  if (!(params.label_smoothing >= 0.0f && params.label_smoothing <= 1.0f)) {
    fail("cross_entropy", "label_smoothing must be in [0, 1], got " +
                              std::to_string(params.label_smoothing));
  }
  // The loss is always computed in float32: bfloat16 logits (the bfloat16 precision mode) are
  // cast up, differentiably, so their gradient returns as bfloat16.
  const Tensor logits32 =
      logits.dtype() == DType::BFloat16 ? cast(logits, DType::Float32) : logits;
  auto [loss, probabilities] =
      cross_entropy_forward(logits32.contiguous(), targets.contiguous(), params.label_smoothing);
  if (autograd::needs_grad({logits32})) {
    autograd::record("cross_entropy", loss, {logits32},
                     [probabilities = probabilities, targets = targets.contiguous(),
                      smoothing = params.label_smoothing](const Tensor& grad) {
                       return std::vector<Tensor>{
                           cross_entropy_backward(grad, probabilities, targets, smoothing)};
                     });
  }
  return loss;
}

}  // namespace crunet::ops
