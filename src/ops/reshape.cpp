// Tensor::reshape and ops::flatten: views on contiguous tensors, copies otherwise; the gradient is
// reshaped back to the input's shape.
#include "crunet/autograd/node.h"
#include "crunet/ops/flatten.h"
#include "op_checks.h"

namespace crunet {

Tensor Tensor::reshape(const Shape& requested) const {
  Shape shape = requested;
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      if (inferred >= 0) ops::fail("reshape", "more than one -1 in " + shape_str(requested));
      inferred = static_cast<int>(d);
    } else if (shape[d] < 0) {
      ops::fail("reshape", "negative size in " + shape_str(requested));
    } else {
      known *= shape[d];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || numel() % known != 0) {
      ops::fail("reshape", "cannot reshape " + shape_str(this->shape()) + " into " +
                               shape_str(requested));
    }
    shape[static_cast<std::size_t>(inferred)] = numel() / known;
  }
  if (shape_numel(shape) != numel()) {
    ops::fail("reshape", "cannot reshape " + shape_str(this->shape()) + " (" +
                             std::to_string(numel()) + " elements) into " + shape_str(requested));
  }
  Tensor source = contiguous();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = source.impl().storage;
  impl->offset = source.impl().offset;
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = source.dtype();
  Tensor out(impl);
  if (autograd::needs_grad({*this})) {
    autograd::record("reshape", out, {*this}, [input_shape = this->shape()](const Tensor& grad) {
      return std::vector<Tensor>{grad.reshape(input_shape)};
    });
  }
  return out;
}

namespace ops {

Tensor flatten(const Tensor& x, std::int64_t start_dim) {
  check_defined("flatten", x, "x");
  const std::int64_t rank = x.dim();
  const std::int64_t start = start_dim < 0 ? start_dim + rank : start_dim;
  if (start < 0 || start >= std::max<std::int64_t>(rank, 1)) {
    fail("flatten", "start_dim " + std::to_string(start_dim) + " out of range for shape " +
                        shape_str(x.shape()));
  }
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  shape.push_back(-1);
  return x.reshape(shape);
}

}  // namespace ops
}  // namespace crunet
