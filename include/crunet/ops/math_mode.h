#pragma once
// How float32 convolutions and matrix products compute on CUDA devices. kFp32 (the default):
// plain float32 multiply-adds, results within ~1e-5 of the CPU's. kTf32: cuDNN and cuBLAS may use
// TensorFloat-32 tensor cores (inputs rounded to 10 mantissa bits, float32 accumulation), as
// PyTorch's allow_tf32; several times faster on Ampere and later, relative errors ~1e-3.
// bfloat16 tensors are not affected: they always compute in float32 from bfloat16 storage.
// The mode belongs to the calling thread, as NoGradGuard's does: set it on the thread that runs
// both the forward and the backward pass. The CPU backend ignores it.
#include <string>

namespace crunet::ops {

enum class MathMode { kFp32, kTf32 };

// The calling thread's mode.
MathMode cuda_math_mode();
void set_cuda_math_mode(MathMode mode);

// Sets the calling thread's mode for its lifetime and restores the previous one.
class CudaMathModeGuard {
 public:
  explicit CudaMathModeGuard(MathMode mode) : previous_(cuda_math_mode()) {
    set_cuda_math_mode(mode);
  }
  ~CudaMathModeGuard() { set_cuda_math_mode(previous_); }
  CudaMathModeGuard(const CudaMathModeGuard&) = delete;
  CudaMathModeGuard& operator=(const CudaMathModeGuard&) = delete;

 private:
  MathMode previous_;
};

// "fp32" or "tf32"; and back, throwing ValueError for another name.
const char* math_mode_name(MathMode mode);
MathMode parse_math_mode(const std::string& name);

}  // namespace crunet::ops
