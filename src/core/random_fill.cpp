#include "crunet/core/random.h"

#include "crunet/core/error.h"
#include "crunet/core/rng.h"

#if CRUNET_WITH_CUDA
#include "cuda/random_cuda.h"
#endif

namespace crunet {
namespace {

void check_fillable(const Tensor& t, const char* op) {
  if (t.dtype() != DType::Float32 && t.dtype() != DType::BFloat16) {
    throw ValueError(std::string(op) + ": " + t.description() +
                     " must be float32 or bfloat16");
  }
  if (!t.is_contiguous()) throw ValueError(std::string(op) + ": " + t.description() +
                                           " must be contiguous");
}

// normal: scale = std, shift = mean; uniform: scale = high - low, shift = low.
void fill(const Tensor& t, bool normal, double scale, double shift, const char* op) {
  check_fillable(t, op);
  if (t.device().is_cuda()) {
#if CRUNET_WITH_CUDA
    const auto [seed, fill_number] = cuda_generator(t.device().index()).next_fill();
    cuda::philox_fill(t, seed, fill_number, normal, static_cast<float>(scale),
                      static_cast<float>(shift));
    return;
#else
    throw NotImplementedError(std::string(op) + " on " + t.device().str() +
                              ": this build of crunet has no CUDA backend");
#endif
  }
  Tensor values = empty(t.shape());
  float* out = values.data<float>();
  Generator& generator = default_generator();
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    const double v = normal ? generator.normal() : generator.uniform();
    out[i] = static_cast<float>(shift + scale * v);
  }
  Tensor target = t;
  target.copy_(values);
}

}  // namespace

void normal_(const Tensor& t, double mean, double std) { fill(t, true, std, mean, "normal_"); }

void uniform_(const Tensor& t, double low, double high) {
  fill(t, false, high - low, low, "uniform_");
}

}  // namespace crunet
