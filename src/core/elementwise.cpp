#include "crunet/core/elementwise.h"

#include "crunet/core/error.h"
#include "crunet/core/half.h"
#include "parallel_for.h"

#if CRUNET_WITH_CUDA
#include "cuda/elementwise_cuda.h"
#endif

namespace crunet {
namespace {

void check_same(const Tensor& dst, const Tensor& src, const char* op) {
  if (dst.shape() != src.shape() || dst.dtype() != src.dtype() || dst.device() != src.device()) {
    throw ValueError(std::string(op) + ": destination " + dst.description() +
                     " and source " + src.description() + " differ");
  }
  if (!dst.is_contiguous(dst.memory_format())) {
    throw ValueError(std::string(op) + ": destination " + dst.description() + " must be dense");
  }
}

}  // namespace

void add_inplace(const Tensor& dst, const Tensor& src, float alpha) {
  check_same(dst, src, "add_inplace");
  // The source in the destination's layout, so that one flat loop pairs the same elements.
  const Tensor same_layout = src.contiguous(dst.memory_format());
  if (dst.device().is_cuda()) {
#if CRUNET_WITH_CUDA
    cuda::add_inplace(dst, same_layout, alpha);
    return;
#endif
  }
  if (dst.dtype() == DType::BFloat16) {
    // Summed in float32 and rounded once: the gradients of a bfloat16 activation used twice.
    auto* d = static_cast<std::uint16_t*>(dst.data_ptr());
    const auto* s = static_cast<const std::uint16_t*>(same_layout.data_ptr());
    parallel_for(dst.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
      for (std::int64_t i = begin; i < end; ++i) {
        d[i] = float_to_bfloat16_bits(bfloat16_bits_to_float(d[i]) +
                                      alpha * bfloat16_bits_to_float(s[i]));
      }
    });
    return;
  }
  if (dst.dtype() != DType::Float32) {
    throw NotImplementedError(std::string("add_inplace on ") + dst.description());
  }
  float* d = dst.data<float>();
  const float* s = same_layout.data<float>();
  parallel_for(dst.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) d[i] += alpha * s[i];
  });
}

void scale_inplace(const Tensor& dst, float factor) {
  if (!dst.is_contiguous(dst.memory_format())) {
    throw ValueError("scale_inplace: " + dst.description() + " must be dense");
  }
  if (dst.device().is_cuda()) {
#if CRUNET_WITH_CUDA
    cuda::scale_inplace(dst, factor);
    return;
#endif
  }
  if (dst.dtype() != DType::Float32) {
    throw NotImplementedError(std::string("scale_inplace on ") + dst.description());
  }
  float* d = dst.data<float>();
  parallel_for(dst.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) d[i] *= factor;
  });
}

}  // namespace crunet
