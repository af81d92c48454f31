#if CRUNET_WITH_ONEDNN

#include "conv2d_pointwise_matmul.h"

#include <cstdlib>
#include <cstring>
#include <tuple>

#include "onednn_context.h"

namespace crunet::ops::cpu::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

bool enabled() {
  static const bool on = [] {
    const char* value = std::getenv("CRUNET_CPU_POINTWISE");
    return value == nullptr || std::strcmp(value, "conv") != 0;
  }();
  return on;
}

memory::data_type onednn_type(DType dtype) {
  return dtype == DType::BFloat16 ? memory::data_type::bf16 : memory::data_type::f32;
}

bool channels_last(const Tensor& t) {
  return t.dim() == 4 && t.is_contiguous(MemoryFormat::ChannelsLast);
}

// A product c[m, n] = a[m, k] * b[k, n]; a_transposed: a is stored as [k, m] row-major.
enum class Pass { kBackwardData, kBackwardWeight };
using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, Pass, DType>;

struct ProductDescs {
  memory::desc a, b, c;
};

ProductDescs product_descs(std::int64_t m, std::int64_t k, std::int64_t n, bool a_transposed,
                           DType dtype) {
  const auto type = onednn_type(dtype);
  return {memory::desc({m, k}, type, a_transposed ? Tag::ba : Tag::ab),
          memory::desc({k, n}, type, Tag::ab), memory::desc({m, n}, type, Tag::ab)};
}

dnnl::matmul product(std::int64_t m, std::int64_t k, std::int64_t n, bool a_transposed,
                     DType dtype) {
  const ProductDescs d = product_descs(m, k, n, a_transposed, dtype);
  return dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(d.a, d.b, d.c), engine()));
}

PrimitiveCache<Key, dnnl::matmul>& cache() {
  static PrimitiveCache<Key, dnnl::matmul> instance;
  return instance;
}

void run(const dnnl::matmul& primitive, std::int64_t m, std::int64_t k, std::int64_t n,
         bool a_transposed, const Tensor& a, const Tensor& b, Tensor& c) {
  const ProductDescs d = product_descs(m, k, n, a_transposed, c.dtype());
  primitive.execute(stream(), {{DNNL_ARG_SRC, wrap(d.a, a)},
                               {DNNL_ARG_WEIGHTS, wrap(d.b, b)},
                               {DNNL_ARG_DST, wrap(d.c, c)}});
  stream().wait();
}

bool pointwise_channels_last(const Shape& weight_shape, const Conv2dParams& params,
                             const Tensor& grad_y, const Tensor& x_or_undefined) {
  return enabled() && weight_shape.size() == 4 && weight_shape[2] == 1 && weight_shape[3] == 1 &&
         params.stride == 1 && params.padding == 0 && params.groups == 1 && channels_last(grad_y) &&
         (!x_or_undefined.defined() || channels_last(x_or_undefined));
}

}  // namespace

bool pointwise_backward_data_by_matmul(const Shape& weight_shape, const Conv2dParams& params,
                                       const Tensor& grad_y) {
  return (grad_y.dtype() == DType::BFloat16 || grad_y.dtype() == DType::Float32) &&
         pointwise_channels_last(weight_shape, params, grad_y, Tensor());
}

bool pointwise_backward_weight_by_matmul(const Shape& weight_shape, const Conv2dParams& params,
                                         const Tensor& grad_y, const Tensor& x) {
  return (grad_y.dtype() == DType::BFloat16 || grad_y.dtype() == DType::Float32) &&
         x.dtype() == grad_y.dtype() && pointwise_channels_last(weight_shape, params, grad_y, x);
}

Tensor pointwise_backward_data(const Tensor& grad_y, const Tensor& weight, const Shape& x_shape) {
  const std::int64_t m = x_shape[0] * x_shape[2] * x_shape[3];
  const std::int64_t c_in = x_shape[1], c_out = weight.size(0);
  Tensor grad_x = empty(x_shape, TensorOptions(grad_y.dtype()), MemoryFormat::ChannelsLast);
  checked("conv2d backward data (pointwise matmul)", [&] {
    const Tensor w = weight.contiguous();  // [Cout, Cin, 1, 1] is [Cout, Cin] row-major
    const dnnl::matmul primitive =
        cache().get(Key{m, c_out, c_in, Pass::kBackwardData, grad_y.dtype()},
                    [&] { return product(m, c_out, c_in, false, grad_y.dtype()); });
    run(primitive, m, c_out, c_in, false, grad_y, w, grad_x);
  });
  return grad_x;
}

Tensor pointwise_backward_weight(const Tensor& grad_y, const Tensor& x, const Shape& weight_shape) {
  const std::int64_t m = x.size(0) * x.size(2) * x.size(3);
  const std::int64_t c_in = x.size(1), c_out = weight_shape[0];
  Tensor grad_w = empty(weight_shape, TensorOptions(grad_y.dtype()));
  checked("conv2d backward weight (pointwise matmul)", [&] {
    const dnnl::matmul primitive =
        cache().get(Key{c_out, m, c_in, Pass::kBackwardWeight, grad_y.dtype()},
                    [&] { return product(c_out, m, c_in, true, grad_y.dtype()); });
    run(primitive, c_out, m, c_in, true, grad_y, x, grad_w);
  });
  return grad_w;
}

}  // namespace crunet::ops::cpu::onednn

#endif  // CRUNET_WITH_ONEDNN
