#pragma once
// Which implementation runs a CUDA conv2d pass whose geometry the custom kernels cover (a 3x3
// depthwise or small-group convolution, kernels/conv2d.cuh): kAuto times the custom kernel
// against cuDNN's best algorithm on the first call of each (device, pass, shapes, dtype, math
// mode) and keeps the faster; kCudnn and kCustom force one side (tests, benchmarks). Every other
// geometry always goes to cuDNN. The setting belongs to the calling thread; its initial value
// comes from the environment variable CRUNET_CONV_KERNEL=auto|cudnn|custom (auto when unset).
// Free of CUDA headers, so that the GPU tests and benchmarks can include it.
#include "crunet/core/tensor.h"
#include "crunet/ops/conv2d.h"

namespace crunet::ops::cuda {

enum class ConvKernelChoice { kAuto, kCudnn, kCustom };
enum class ConvPass { kForward, kBackwardData, kBackwardFilter };
enum class ConvKernel { kNone, kCudnn, kCustom };

ConvKernelChoice conv2d_kernel_choice();
void set_conv2d_kernel_choice(ConvKernelChoice choice);

// Sets the calling thread's choice for its lifetime and restores the previous one.
class ConvKernelChoiceGuard {
 public:
  explicit ConvKernelChoiceGuard(ConvKernelChoice choice) : previous_(conv2d_kernel_choice()) {
    set_conv2d_kernel_choice(choice);
  }
  ~ConvKernelChoiceGuard() { set_conv2d_kernel_choice(previous_); }
  ConvKernelChoiceGuard(const ConvKernelChoiceGuard&) = delete;
  ConvKernelChoiceGuard& operator=(const ConvKernelChoiceGuard&) = delete;

 private:
  ConvKernelChoice previous_;
};

// "auto", "cudnn", "custom"; and back (ValueError for another name).
const char* conv_kernel_choice_name(ConvKernelChoice choice);
ConvKernelChoice parse_conv_kernel_choice(const std::string& name);

// Whether the custom kernels cover conv2d(x [N, C, H, W], weight, params) in `dtype`: a 3x3
// kernel, padding 1, stride 1 or 2, C output channels in groups of 1, 4 or 8, float32 or bfloat16.
bool conv2d_custom_kernel_applies(const Shape& x, const Shape& weight, const Conv2dParams& params,
                                  DType dtype);

// What ran the calling thread's most recent CUDA conv2d call of `pass` (kNone before any).
ConvKernel conv2d_last_kernel(ConvPass pass);

}  // namespace crunet::ops::cuda
