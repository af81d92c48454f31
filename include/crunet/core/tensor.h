#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crunet/core/device.h"
#include "crunet/core/dtype.h"
#include "crunet/core/error.h"
#include "crunet/core/shape.h"
#include "crunet/core/storage.h"

namespace crunet {

namespace autograd {
class Node;
struct LeafHooks;
}

// What a tensor is: a view (offset, shape, strides) on a storage, plus its autograd links.
// Tensors are handles: copying a Tensor shares the TensorImpl, as in PyTorch.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::Float32;
  bool requires_grad = false;                // set by the user on leaves (parameters, inputs)
  std::shared_ptr<TensorImpl> grad;          // accumulated gradient of a leaf
  std::shared_ptr<autograd::Node> grad_fn;   // the node that made this tensor, for non-leaves
  std::shared_ptr<autograd::LeafHooks> hooks; // a leaf's grad-ready hooks (crunet/autograd/hooks.h)
};

// How the elements of a 4-d [N, C, H, W] tensor lie in memory: NCHW (Contiguous, the default) or
// NHWC (ChannelsLast), which the CPU backend's convolutions, batch norm and pooling run on without
// reordering. The shape stays [N, C, H, W] either way; only the strides differ. PyTorch's names.
enum class MemoryFormat { Contiguous, ChannelsLast };

struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();

  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}          // NOLINT: implicit, as in libtorch
  TensorOptions(Device dev) : device(dev) {}    // NOLINT
  TensorOptions(DType d, Device dev) : dtype(d), device(dev) {}
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor, as an optional argument or an absent gradient
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  std::int64_t dim() const { return static_cast<std::int64_t>(impl().shape.size()); }
  // size(-1) is the last dimension.
  std::int64_t size(std::int64_t dimension) const;
  std::int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  // Dense in that format (ChannelsLast needs a 4-d tensor). A tensor with C == 1 or H == W == 1
  // is both.
  bool is_contiguous(MemoryFormat format) const;
  // ChannelsLast for a 4-d tensor laid out NHWC and not also NCHW; Contiguous otherwise.
  MemoryFormat memory_format() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype()); }

  // Pointer to the first element (device memory for CUDA tensors). Checks the element type.
  template <typename T>
  T* data() const {
    check_dtype(DTypeOf<T>::value, "data");
    return static_cast<T*>(data_ptr());
  }
  void* data_ptr() const;

  Tensor to(const Device& device) const;
  Tensor to(DType dtype) const;
  // The same values in a fresh, contiguous storage; not differentiable.
  Tensor clone() const;
  // Itself if contiguous, else a contiguous copy.
  Tensor contiguous() const;
  // Itself if dense in that format, else a copy that is.
  Tensor contiguous(MemoryFormat format) const;
  // A tensor sharing storage but outside the autograd graph.
  Tensor detach() const;
  // A view with a new shape (one dimension may be -1); differentiable.
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const { return reshape(shape); }

  // In-place, outside autograd: copies values (same shape, any dtype or device) or fills.
  void copy_(const Tensor& source);
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // Autograd. requires_grad(true) marks a leaf whose gradient backward() accumulates.
  bool requires_grad() const;
  Tensor& requires_grad(bool value);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& grad);
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  // Reverse-mode differentiation from this tensor; `gradient` may be omitted for a scalar.
  void backward(const Tensor& gradient = Tensor()) const;

  // The single value of a one-element tensor, as float.
  float item() const;
  // All values in order, converted to float (from any dtype, any device).
  std::vector<float> to_vector() const;
  std::vector<std::int64_t> to_int64_vector() const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  // "float32[8, 64, 56, 56] on cpu", for messages.
  std::string description() const;

 private:
  void check_dtype(DType expected, const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

// Factories. Everything random draws from the default generator unless a seed is given.
Tensor empty(const Shape& shape, const TensorOptions& options = {});
Tensor empty(const Shape& shape, const TensorOptions& options, MemoryFormat format);
Tensor zeros(const Shape& shape, const TensorOptions& options = {});
Tensor ones(const Shape& shape, const TensorOptions& options = {});
Tensor full(const Shape& shape, double value, const TensorOptions& options = {});
Tensor randn(const Shape& shape, const TensorOptions& options = {});
Tensor randn(const Shape& shape, std::uint64_t seed, const TensorOptions& options = {});
// Uniform in [low, high).
Tensor rand_uniform(const Shape& shape, double low, double high, std::uint64_t seed,
                    const TensorOptions& options = {});
Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                   const TensorOptions& options = {});
Tensor from_int64_vector(const std::vector<std::int64_t>& values, const Shape& shape,
                   const Device& device = Device::cpu());
// Same shape, dtype, device and memory format as `other`.
Tensor empty_like(const Tensor& other);
Tensor zeros_like(const Tensor& other);

}  // namespace crunet
