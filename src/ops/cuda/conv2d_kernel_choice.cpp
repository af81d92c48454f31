// The thread's conv2d kernel choice and the custom kernels' coverage (conv2d_kernel_choice.h).
#include "conv2d_kernel_choice.h"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "crunet/core/error.h"

namespace crunet::ops::cuda {
namespace {

ConvKernelChoice choice_from_environment() {
  const char* value = std::getenv("CRUNET_CONV_KERNEL");
  if (!value || !*value) return ConvKernelChoice::kAuto;
  try {
    return parse_conv_kernel_choice(value);
  } catch (const ValueError&) {
    throw UserError(std::string("CRUNET_CONV_KERNEL=") + value +
                    ": expected auto, cudnn or custom");
  }
}

ConvKernelChoice process_default_choice() {
  static const ConvKernelChoice choice = choice_from_environment();
  return choice;
}

thread_local std::optional<ConvKernelChoice> thread_choice;

}  // namespace

ConvKernelChoice conv2d_kernel_choice() {
  return thread_choice ? *thread_choice : process_default_choice();
}

void set_conv2d_kernel_choice(ConvKernelChoice choice) { thread_choice = choice; }

const char* conv_kernel_choice_name(ConvKernelChoice choice) {
  switch (choice) {
    case ConvKernelChoice::kCudnn:
      return "cudnn";
    case ConvKernelChoice::kCustom:
      return "custom";
    case ConvKernelChoice::kAuto:
      break;
  }
  return "auto";
}

ConvKernelChoice parse_conv_kernel_choice(const std::string& name) {
  if (name == "auto") return ConvKernelChoice::kAuto;
  if (name == "cudnn") return ConvKernelChoice::kCudnn;
  if (name == "custom") return ConvKernelChoice::kCustom;
  throw ValueError("conv2d kernel choice: unknown name '" + name +
                   "'; expected auto, cudnn or custom");
}

bool conv2d_custom_kernel_applies(const Shape& x, const Shape& weight, const Conv2dParams& params,
                                  DType dtype) {
  if (dtype != DType::Float32 && dtype != DType::BFloat16) return false;
  if (x.size() != 4 || weight.size() != 4) return false;
  if (weight[2] != 3 || weight[3] != 3 || params.padding != 1 || params.dilation != 1) return false;
  if (params.stride != 1 && params.stride != 2) return false;
  const std::int64_t channels = x[1];
  if (params.groups < 1 || channels % params.groups != 0 || weight[0] != channels) return false;
  const std::int64_t per_group = channels / params.groups;
  if (weight[1] != per_group || (per_group != 1 && per_group != 4 && per_group != 8)) {
    return false;
  }
  // The kernels' launch limits: the grouped ones take one block per (image, group, 128 positions
  // of a plane), backward-filter one per (channel, chunk), at most channels + 2048.
  const std::int64_t area = x[2] * x[3];
  const std::int64_t tiles = (area + 127) / 128;
  return x[0] >= 1 && area <= INT32_MAX && x[0] * params.groups * tiles <= INT32_MAX &&
         channels + 2048 <= INT32_MAX;
}

}  // namespace crunet::ops::cuda
