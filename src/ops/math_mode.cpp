// The calling thread's CUDA math mode (crunet/ops/math_mode.h). Here rather than in src/ops/cuda/
// so that the public functions exist in builds without CUDA too, where they change nothing.
#include "crunet/ops/math_mode.h"

#include "crunet/core/error.h"

namespace crunet::ops {
namespace {

thread_local MathMode thread_math_mode = MathMode::kFp32;

}  // namespace

MathMode cuda_math_mode() { return thread_math_mode; }

void set_cuda_math_mode(MathMode mode) { thread_math_mode = mode; }

const char* math_mode_name(MathMode mode) { return mode == MathMode::kTf32 ? "tf32" : "fp32"; }

MathMode parse_math_mode(const std::string& name) {
  if (name == "fp32") return MathMode::kFp32;
  if (name == "tf32") return MathMode::kTf32;
  throw ValueError("math mode: unknown name '" + name + "'; expected fp32 or tf32");
}

}  // namespace crunet::ops
