#include "crunet/nn/layers.h"

#include <cmath>

#include "crunet/nn/autocast.h"
#include "crunet/nn/init.h"
#include "crunet/ops/flatten.h"
#include "crunet/ops/global_avg_pool.h"
#include "crunet/ops/linear.h"
#include "crunet/ops/relu.h"

namespace crunet::nn {

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
               const ops::Conv2dParams& params, bool bias)
    : params_(params) {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || params.groups <= 0 ||
      in_channels % params.groups != 0 || out_channels % params.groups != 0) {
    throw ValueError("Conv2d(" + std::to_string(in_channels) + " -> " +
                     std::to_string(out_channels) + ", kernel " + std::to_string(kernel) +
                     ", groups " + std::to_string(params.groups) +
                     "): channels must be positive and divisible by groups");
  }
  register_parameter("weight", &weight_,
                     init::kaiming_normal({out_channels, in_channels / params.groups, kernel, kernel}));
  if (bias) register_parameter("bias", &bias_, zeros({out_channels}));
}

Tensor Conv2d::forward(const Tensor& x) { return autocast_conv2d(x, weight_, bias_, params_); }

BatchNorm2d::BatchNorm2d(std::int64_t channels, float momentum, float eps)
    : momentum_(momentum), eps_(eps) {
  register_parameter("weight", &weight_, ones({channels}));
  register_parameter("bias", &bias_, zeros({channels}));
  register_buffer("running_mean", &running_mean_, zeros({channels}));
  register_buffer("running_var", &running_var_, ones({channels}));
  register_buffer("num_batches_tracked", &num_batches_tracked_,
                  zeros({}, TensorOptions(DType::Int64)));
}

ops::BatchNormParams BatchNorm2d::step_params() {
  if (is_training()) {
    // The counter lives on the CPU copy only when the module is on the CPU; it is informational.
    if (num_batches_tracked_.device().is_cpu()) ++num_batches_tracked_.data<std::int64_t>()[0];
  }
  return {is_training(), momentum_, eps_};
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  const ops::BatchNormParams params = step_params();
  if (sync_sum_ && is_training()) {
    return ops::sync_batch_norm(x, weight_, bias_, running_mean_, running_var_, params, sync_sum_);
  }
  return ops::batch_norm(x, weight_, bias_, running_mean_, running_var_, params);
}

Tensor BatchNorm2d::forward_relu(const Tensor& x) {
  const ops::BatchNormParams params = step_params();
  if (sync_sum_ && is_training()) {
    return ops::relu(
        ops::sync_batch_norm(x, weight_, bias_, running_mean_, running_var_, params, sync_sum_));
  }
  return ops::batch_norm_relu(x, weight_, bias_, running_mean_, running_var_, params);
}

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }

Tensor MaxPool2d::forward(const Tensor& x) { return ops::max_pool2d(x, params_); }

Tensor GlobalAvgPool::forward(const Tensor& x) { return ops::global_avg_pool(x); }

Tensor Flatten::forward(const Tensor& x) { return ops::flatten(x); }

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  register_parameter("weight", &weight_, init::uniform({out_features, in_features}, bound));
  if (bias) register_parameter("bias", &bias_, init::uniform({out_features}, bound));
}

Tensor Linear::forward(const Tensor& x) { return autocast_linear(x, weight_, bias_); }

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& module : modules) push_back(std::move(module));
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  push_back(std::to_string(size()), std::move(module));
}

void Sequential::push_back(const std::string& name, std::shared_ptr<Module> module) {
  register_module(name, std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& entry : named_children()) y = entry.second->forward(y);
  return y;
}

}  // namespace crunet::nn
