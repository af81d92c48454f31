#pragma once
// The basic layers: thin modules over crunet::ops with their parameters and initialisation.
#include "crunet/nn/module.h"
#include "crunet/ops/batch_norm.h"
#include "crunet/ops/conv2d.h"
#include "crunet/ops/max_pool2d.h"
#include "crunet/ops/sync_batch_norm.h"

namespace crunet::nn {

// Convolution without bias unless asked; weights drawn from N(0, 2 / fan_in) (MSRA, as the
// paper's MXNet definitions: Xavier, gaussian, factor "in", magnitude 2).
class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
         const ops::Conv2dParams& params = {}, bool bias = false);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "Conv2d"; }

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const ops::Conv2dParams& params() const { return params_; }

 private:
  ops::Conv2dParams params_;
  Tensor weight_;
  Tensor bias_;
};

// Batch normalisation with affine weight (1) and bias (0), running statistics and PyTorch's
// num_batches_tracked, so that state dicts move between the two.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(std::int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)), through the fused op where the backend has one (BNReLU uses it).
  Tensor forward_relu(const Tensor& x);
  std::string kind() const override { return "BatchNorm2d"; }
  std::int64_t channels() const { return weight_.size(0); }
  float eps() const { return eps_; }
  // SyncBN: with a cross-process sum set, training uses the global batch's statistics
  // (ops::sync_batch_norm); an empty function returns to per-process statistics.
  void set_cross_process_sum(ops::CrossProcessSum sum) { sync_sum_ = std::move(sum); }
  bool is_synchronized() const { return static_cast<bool>(sync_sum_); }

 private:
  // This call's parameters; counts the batch in training.
  ops::BatchNormParams step_params();

  float momentum_;
  float eps_;
  ops::CrossProcessSum sync_sum_;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "ReLU"; }
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const ops::Pool2dParams& params) : params_(params) {}
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "MaxPool2d"; }

 private:
  ops::Pool2dParams params_;
};

// [N, C, H, W] -> [N, C].
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "GlobalAvgPool"; }
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "Flatten"; }
};

// Fully connected with bias; weight and bias uniform in +-1/sqrt(in), as PyTorch.
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "Linear"; }

 private:
  Tensor weight_, bias_;
};

// Applies its children in order; they are named "0", "1", ... as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  void push_back(std::shared_ptr<Module> module);
  void push_back(const std::string& name, std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "Sequential"; }
  std::size_t size() const { return named_children().size(); }
};

}  // namespace crunet::nn
