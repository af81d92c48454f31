#pragma once
// The precision modes of training (train.precision, crunet-bench --precision):
//   fp32  plain float32 everywhere (the default);
//   tf32  float32 tensors, with cuDNN's and cuBLAS's TensorFloat-32 tensor cores for convolutions
//         and matrix products (crunet/ops/math_mode.h);
//   bf16  bfloat16 activations and convolutions, float32 master weights, batch-norm statistics,
//         classifier and loss (crunet/nn/autocast.h); on a GPU, or on a CPU with avx512_bf16 or
//         amx_bf16 (crunet/ops/cpu_features.h);
//   auto  (a config value, not a mode) chosen at run time by choose_auto_precision: bf16 on a CPU
//         with AMX, fp32 elsewhere.
#include <optional>
#include <string>

#include "crunet/core/device.h"
#include "crunet/nn/autocast.h"
#include "crunet/ops/math_mode.h"

namespace crunet::train {

enum class Precision { kFp32, kTf32, kBf16 };

// "fp32", "tf32", "bf16"; and back, throwing ValueError naming the known modes.
const char* precision_name(Precision precision);
Precision parse_precision(const std::string& name);

// Why `precision` cannot run on `device` ("tf32 needs a CUDA device ..."), or "" when it can.
std::string precision_unsupported_reason(Precision precision, const Device& device);

// What `auto` means on `device` on this machine, and why (for the log).
struct PrecisionChoice {
  Precision precision;
  std::string reason;
};
PrecisionChoice choose_auto_precision(const Device& device);

// Applies a precision mode to the calling thread for its lifetime: bf16 enters an autocast guard,
// tf32 the TF32 math mode, fp32 nothing. Hold one around the forward and backward passes (the
// math mode must cover both; the autocast guard is only needed for the forward).
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision precision);
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  std::optional<nn::AutocastGuard> autocast_;
  std::optional<ops::CudaMathModeGuard> math_mode_;
};

}  // namespace crunet::train
