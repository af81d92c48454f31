#include "crunet/core/tensor.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <sstream>

#include "crunet/autograd/node.h"
#include "crunet/core/half.h"

namespace crunet {
namespace {

double load_as_double(const void* base, std::int64_t index, DType dtype) {
  switch (dtype) {
    case DType::Float32: return static_cast<const float*>(base)[index];
    case DType::Float16: return half_bits_to_float(static_cast<const std::uint16_t*>(base)[index]);
    case DType::BFloat16:
      return bfloat16_bits_to_float(static_cast<const std::uint16_t*>(base)[index]);
    case DType::Int32: return static_cast<const std::int32_t*>(base)[index];
    case DType::Int64: return static_cast<double>(static_cast<const std::int64_t*>(base)[index]);
  }
  return 0.0;
}

void store_from_double(void* base, std::int64_t index, DType dtype, double value) {
  switch (dtype) {
    case DType::Float32: static_cast<float*>(base)[index] = static_cast<float>(value); break;
    case DType::Float16:
      static_cast<std::uint16_t*>(base)[index] = float_to_half_bits(static_cast<float>(value));
      break;
    case DType::BFloat16:
      static_cast<std::uint16_t*>(base)[index] = float_to_bfloat16_bits(static_cast<float>(value));
      break;
    case DType::Int32: static_cast<std::int32_t*>(base)[index] = static_cast<std::int32_t>(value); break;
    case DType::Int64: static_cast<std::int64_t*>(base)[index] = static_cast<std::int64_t>(value); break;
  }
}

// Calls visit(linear_index, strided_offset) for every element of a strided view, in order.
template <typename Visit>
void for_each_element(const Shape& shape, const Shape& strides, Visit visit) {
  const std::int64_t count = shape_numel(shape);
  const std::size_t rank = shape.size();
  Shape index(rank, 0);
  std::int64_t offset = 0;
  for (std::int64_t linear = 0; linear < count; ++linear) {
    visit(linear, offset);
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < shape[d]) {
        offset += strides[d];
        break;
      }
      offset -= strides[d] * (shape[d] - 1);
      index[d] = 0;
    }
  }
}

// [N, C, H, W] strides of an NHWC layout.
Shape channels_last_strides(const Shape& shape) {
  const std::int64_t c = shape[1], h = shape[2], w = shape[3];
  return {h * w * c, 1, w * c, c};
}

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, const TensorOptions& options,
                                      MemoryFormat format = MemoryFormat::Contiguous) {
  for (std::int64_t extent : shape) {
    if (extent < 0) throw ValueError("tensor shape " + shape_str(shape) + " has a negative size");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(
      static_cast<std::size_t>(shape_numel(shape)) * dtype_size(options.dtype), options.device);
  impl->shape = shape;
  if (format == MemoryFormat::ChannelsLast) {
    if (shape.size() != 4) {
      throw ValueError("channels-last memory format needs a 4-d shape, got " + shape_str(shape));
    }
    impl->strides = channels_last_strides(shape);
  } else {
    impl->strides = contiguous_strides(shape);
  }
  impl->dtype = options.dtype;
  return impl;
}

// True when the strides walk the shape densely in the order given (outermost dimension first),
// ignoring dimensions of size 1, whose stride never matters.
bool dense_in_order(const Shape& shape, const Shape& strides, std::initializer_list<int> order) {
  std::int64_t expected = 1;
  for (auto d = std::rbegin(order); d != std::rend(order); ++d) {
    const auto i = static_cast<std::size_t>(*d);
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

// A 4-byte-element copy between NCHW and NHWC layouts of the same [N, C, H, W] tensor, as a
// transpose of each image's [C, H*W] <-> [H*W, C] matrix in cache-sized tiles: the element-by-
// element path below is far too slow for activations. Returns false where it does not apply.
bool copy_between_formats(const Tensor& dst, const Tensor& src) {
  if (dst.dim() != 4 || dtype_size(dst.dtype()) != 4 || dst.dtype() != src.dtype() ||
      !dst.device().is_cpu()) {
    return false;
  }
  const bool nhwc_to_nchw = src.is_contiguous(MemoryFormat::ChannelsLast) && dst.is_contiguous();
  const bool nchw_to_nhwc = src.is_contiguous() && dst.is_contiguous(MemoryFormat::ChannelsLast);
  if (!nhwc_to_nchw && !nchw_to_nhwc) return false;
  const std::int64_t n = dst.size(0), c = dst.size(1), area = dst.size(2) * dst.size(3);
  // Each image is a [rows, cols] matrix in the source and [cols, rows] in the destination.
  const std::int64_t rows = nchw_to_nhwc ? c : area, cols = nchw_to_nhwc ? area : c;
  const auto* in = static_cast<const std::uint32_t*>(src.data_ptr());
  auto* out = static_cast<std::uint32_t*>(dst.data_ptr());
  constexpr std::int64_t kTile = 32;
  const std::int64_t row_tiles = (rows + kTile - 1) / kTile;
#pragma omp parallel for collapse(2) if (n * rows * cols > 65536)
  for (std::int64_t image = 0; image < n; ++image) {
    for (std::int64_t tile = 0; tile < row_tiles; ++tile) {
      const std::uint32_t* a = in + image * rows * cols;
      std::uint32_t* b = out + image * rows * cols;
      const std::int64_t r_end = std::min(rows, (tile + 1) * kTile);
      for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
        const std::int64_t c_end = std::min(cols, c0 + kTile);
        for (std::int64_t r = tile * kTile; r < r_end; ++r) {
          for (std::int64_t col = c0; col < c_end; ++col) b[col * rows + r] = a[r * cols + col];
        }
      }
    }
  }
  return true;
}

}  // namespace

TensorImpl& Tensor::impl() const {
  if (!impl_) throw ValueError("use of an undefined tensor");
  return *impl_;
}

std::int64_t Tensor::size(std::int64_t dimension) const {
  const std::int64_t rank = dim();
  const std::int64_t d = dimension < 0 ? dimension + rank : dimension;
  if (d < 0 || d >= rank) {
    throw ValueError("size(" + std::to_string(dimension) + ") out of range for a tensor of shape " +
                     shape_str(shape()));
  }
  return impl().shape[static_cast<std::size_t>(d)];
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = impl();
  std::int64_t expected = 1;
  for (std::size_t d = t.shape.size(); d-- > 0;) {
    if (t.shape[d] != 1 && t.strides[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

bool Tensor::is_contiguous(MemoryFormat format) const {
  if (format == MemoryFormat::Contiguous) return is_contiguous();
  return dim() == 4 && dense_in_order(shape(), strides(), {0, 2, 3, 1});
}

MemoryFormat Tensor::memory_format() const {
  return !is_contiguous() && is_contiguous(MemoryFormat::ChannelsLast) ? MemoryFormat::ChannelsLast
                                                                       : MemoryFormat::Contiguous;
}

void* Tensor::data_ptr() const {
  const TensorImpl& t = impl();
  return static_cast<char*>(t.storage->data()) +
         static_cast<std::size_t>(t.offset) * dtype_size(t.dtype);
}

void Tensor::check_dtype(DType expected, const char* what) const {
  if (dtype() != expected) {
    throw ValueError(std::string(what) + ": tensor is " + dtype_name(dtype()) + ", expected " +
                     dtype_name(expected));
  }
}

std::string Tensor::description() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::contiguous(MemoryFormat format) const {
  if (is_contiguous(format)) return *this;
  Tensor out(make_impl(shape(), TensorOptions(dtype(), device()), format));
  out.copy_(*this);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out(make_impl(shape(), TensorOptions(dtype(), device())));
  out.copy_(*this);
  return out;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

Tensor Tensor::to(const Device& target) const {
  if (device() == target) return *this;
  Tensor source = contiguous();
  Tensor out(make_impl(shape(), TensorOptions(dtype(), target)));
  copy_bytes(out.data_ptr(), target, source.data_ptr(), source.device(), nbytes());
  return out;
}

Tensor Tensor::to(DType target) const {
  if (dtype() == target) return *this;
  Tensor out(make_impl(shape(), TensorOptions(target, device())));
  out.copy_(*this);
  return out;
}

void Tensor::copy_(const Tensor& source) {
  if (source.shape() != shape()) {
    throw ValueError("copy_: shape " + shape_str(source.shape()) + " does not match " +
                     shape_str(shape()));
  }
  if (source.device() != device()) {
    Tensor moved = source.to(device());
    copy_(moved);
    return;
  }
  if (source.dtype() == dtype() && is_contiguous() && source.is_contiguous()) {
    copy_bytes(data_ptr(), device(), source.data_ptr(), source.device(), nbytes());
    return;
  }
  if (source.dtype() == dtype() && memory_format() == MemoryFormat::ChannelsLast &&
      source.memory_format() == MemoryFormat::ChannelsLast) {
    copy_bytes(data_ptr(), device(), source.data_ptr(), source.device(), nbytes());
    return;
  }
  if (copy_between_formats(*this, source)) return;
  if (!device().is_cpu()) {
    throw NotImplementedError("copy_ with a dtype change or strides on " + device().str() +
                              ": move the tensor to the CPU first");
  }
  // General CPU path: strided and/or converting, element by element.
  Shape dst_offsets(static_cast<std::size_t>(numel()));
  for_each_element(shape(), strides(), [&](std::int64_t linear, std::int64_t offset) {
    dst_offsets[static_cast<std::size_t>(linear)] = offset;
  });
  void* dst = data_ptr();
  const void* src = source.data_ptr();
  const DType src_dtype = source.dtype();
  const DType dst_dtype = dtype();
  for_each_element(source.shape(), source.strides(), [&](std::int64_t linear, std::int64_t offset) {
    store_from_double(dst, dst_offsets[static_cast<std::size_t>(linear)], dst_dtype,
                      load_as_double(src, offset, src_dtype));
  });
}

void Tensor::fill_(double value) {
  if (!device().is_cpu()) {
    copy_(full(shape(), value, TensorOptions(dtype(), Device::cpu())));
    return;
  }
  void* base = data_ptr();
  const DType type = dtype();
  if (type == DType::Float32 && (is_contiguous() || is_contiguous(MemoryFormat::ChannelsLast))) {
    float* values = static_cast<float*>(base);
    const std::int64_t count = numel();
    const float v = static_cast<float>(value);
    for (std::int64_t i = 0; i < count; ++i) values[i] = v;
    return;
  }
  for_each_element(shape(), strides(), [&](std::int64_t, std::int64_t offset) {
    store_from_double(base, offset, type, value);
  });
}

bool Tensor::requires_grad() const { return impl().requires_grad || impl().grad_fn != nullptr; }

Tensor& Tensor::requires_grad(bool value) {
  if (!is_leaf()) {
    throw ValueError("requires_grad(" + std::string(value ? "true" : "false") +
                     ") on a non-leaf tensor; use detach() to make a new leaf");
  }
  if (value && !is_floating(dtype())) {
    throw ValueError(std::string("requires_grad on a ") + dtype_name(dtype()) +
                     " tensor: only floating-point tensors have gradients");
  }
  impl().requires_grad = value;
  return *this;
}

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined() && grad.shape() != shape()) {
    throw ValueError("set_grad: gradient shape " + shape_str(grad.shape()) +
                     " does not match tensor shape " + shape_str(shape()));
  }
  impl().grad = grad.impl_ptr();
}

float Tensor::item() const {
  if (numel() != 1) {
    throw ValueError("item() needs a tensor with one element, got shape " + shape_str(shape()));
  }
  return to_vector()[0];
}

std::vector<float> Tensor::to_vector() const {
  Tensor host = to(Device::cpu()).to(DType::Float32).contiguous();
  const float* values = host.data<float>();
  return std::vector<float>(values, values + host.numel());
}

std::vector<std::int64_t> Tensor::to_int64_vector() const {
  Tensor host = to(Device::cpu()).to(DType::Int64).contiguous();
  const std::int64_t* values = host.data<std::int64_t>();
  return std::vector<std::int64_t>(values, values + host.numel());
}

Tensor empty(const Shape& shape, const TensorOptions& options) {
  return Tensor(make_impl(shape, options));
}

Tensor zeros(const Shape& shape, const TensorOptions& options) { return full(shape, 0.0, options); }

Tensor ones(const Shape& shape, const TensorOptions& options) { return full(shape, 1.0, options); }

Tensor full(const Shape& shape, double value, const TensorOptions& options) {
  Tensor host = empty(shape, TensorOptions(options.dtype, Device::cpu()));
  host.fill_(value);
  return host.to(options.device);
}

Tensor empty(const Shape& shape, const TensorOptions& options, MemoryFormat format) {
  return Tensor(make_impl(shape, options, format));
}

Tensor empty_like(const Tensor& other) {
  return empty(other.shape(), TensorOptions(other.dtype(), other.device()),
               other.memory_format());
}

Tensor zeros_like(const Tensor& other) {
  Tensor out = empty_like(other);
  out.zero_();
  return out;
}

Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                   const TensorOptions& options) {
  if (static_cast<std::int64_t>(values.size()) != shape_numel(shape)) {
    throw ValueError("from_vector: " + std::to_string(values.size()) +
                     " values do not fill shape " + shape_str(shape));
  }
  Tensor host = empty(shape, TensorOptions(DType::Float32, Device::cpu()));
  if (!values.empty()) std::memcpy(host.data_ptr(), values.data(), values.size() * sizeof(float));
  return host.to(options.dtype).to(options.device);
}

Tensor from_int64_vector(const std::vector<std::int64_t>& values, const Shape& shape,
                   const Device& device) {
  if (static_cast<std::int64_t>(values.size()) != shape_numel(shape)) {
    throw ValueError("from_vector: " + std::to_string(values.size()) +
                     " values do not fill shape " + shape_str(shape));
  }
  Tensor host = empty(shape, TensorOptions(DType::Int64, Device::cpu()));
  if (!values.empty()) {
    std::memcpy(host.data_ptr(), values.data(), values.size() * sizeof(std::int64_t));
  }
  return host.to(device);
}

}  // namespace crunet
