#include "crunet/core/elementwise.h"

#include "crunet/core/error.h"

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
  if (!dst.is_contiguous() || !src.is_contiguous()) {
    throw ValueError(std::string(op) + ": tensors must be contiguous");
  }
}

}  // namespace

void add_inplace(const Tensor& dst, const Tensor& src, float alpha) {
  check_same(dst, src, "add_inplace");
  if (dst.device().is_cuda()) {
#if CRUNET_WITH_CUDA
    cuda::add_inplace(dst, src, alpha);
    return;
#endif
  }
  if (dst.dtype() != DType::Float32) {
    throw NotImplementedError(std::string("add_inplace on ") + dst.description());
  }
  float* d = dst.data<float>();
  const float* s = src.data<float>();
  const std::int64_t count = dst.numel();
#pragma omp parallel for simd if (count > 32768)
  for (std::int64_t i = 0; i < count; ++i) d[i] += alpha * s[i];
}

void scale_inplace(const Tensor& dst, float factor) {
  if (!dst.is_contiguous()) throw ValueError("scale_inplace: tensor must be contiguous");
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
  const std::int64_t count = dst.numel();
#pragma omp parallel for simd if (count > 32768)
  for (std::int64_t i = 0; i < count; ++i) d[i] *= factor;
}

}  // namespace crunet
