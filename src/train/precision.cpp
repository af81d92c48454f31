#include "crunet/train/precision.h"

#include "crunet/core/error.h"

namespace crunet::train {

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::kFp32: return "fp32";
    case Precision::kTf32: return "tf32";
    case Precision::kBf16: return "bf16";
  }
  return "fp32";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "tf32") return Precision::kTf32;
  if (name == "bf16") return Precision::kBf16;
  throw ValueError("unknown precision '" + name + "' (known: fp32, tf32, bf16)");
}

std::string precision_unsupported_reason(Precision precision, const Device& device) {
  if (precision == Precision::kFp32 || device.is_cuda()) return "";
  return std::string(precision_name(precision)) + " needs a CUDA device, but the device is " +
         device.str() + " (the CPU backend computes in fp32 only)";
}

PrecisionScope::PrecisionScope(Precision precision) {
  if (precision == Precision::kBf16) autocast_.emplace(DType::BFloat16);
  if (precision == Precision::kTf32) math_mode_.emplace(ops::MathMode::kTf32);
}

}  // namespace crunet::train
