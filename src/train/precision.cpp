#include "crunet/train/precision.h"

#include "crunet/core/error.h"
#include "crunet/ops/cpu_features.h"

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
  if (precision == Precision::kBf16) {
    const ops::CpuBf16Support support = ops::cpu_bf16_support();
    if (support.bf16) return "";
    return "bf16 on the CPU needs the avx512_bf16 or amx_bf16 CPU feature, which this machine "
           "lacks (" + support.missing + "); use fp32";
  }
  return std::string(precision_name(precision)) + " needs a CUDA device, but the device is " +
         device.str() + " (the CPU backend computes in fp32 or, where the CPU has avx512_bf16 "
         "or amx_bf16, bf16)";
}

PrecisionChoice choose_auto_precision(const Device& device) {
  if (device.is_cuda()) {
    return {Precision::kFp32, "auto on a GPU is fp32 (set tf32 or bf16 to ask for more speed)"};
  }
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  if (support.amx) {
    return {Precision::kBf16, "auto: this CPU has AMX (oneDNN ISA " + support.isa +
                                  "), where bf16 convolutions run several times faster than fp32"};
  }
  return {Precision::kFp32, "auto: this CPU has no AMX (oneDNN ISA " + support.isa +
                                "), where bf16 would not be faster than fp32"};
}

PrecisionScope::PrecisionScope(Precision precision) {
  if (precision == Precision::kBf16) autocast_.emplace(DType::BFloat16);
  if (precision == Precision::kTf32) math_mode_.emplace(ops::MathMode::kTf32);
}

}  // namespace crunet::train
