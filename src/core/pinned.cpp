#include "crunet/core/pinned.h"

#include "crunet/core/allocator.h"

namespace crunet {

Tensor empty_pinned(const Shape& shape, DType dtype) {
  for (std::int64_t extent : shape) {
    if (extent < 0) throw ValueError("empty_pinned: shape " + shape_str(shape) + " has a negative size");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(
      static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype), Device::cpu(),
      pinned_host_allocator());
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor pin_memory(const Tensor& tensor) {
  if (!tensor.device().is_cpu()) {
    throw ValueError("pin_memory: " + tensor.description() + " is not a CPU tensor");
  }
  Tensor pinned = empty_pinned(tensor.shape(), tensor.dtype());
  pinned.copy_(tensor);
  return pinned;
}

bool is_pinned(const Tensor& tensor) {
  // A build or machine without a GPU has no pinned memory (and asks nothing of the CUDA runtime).
  if (!tensor.defined() || !tensor.device().is_cpu() || cuda_device_count() == 0) return false;
  return &tensor.impl().storage->allocator() == &pinned_host_allocator();
}

}  // namespace crunet
