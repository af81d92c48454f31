#pragma once
// SGD with momentum, Nesterov momentum and weight decay, with PyTorch's update rule:
//   g = grad + weight_decay * p;  buf = momentum * buf + g  (buf = g on the first step);
//   update = nesterov ? g + momentum * buf : buf;  p -= lr * update.
// The paper's recipe: Nesterov momentum 0.9, weight decay 0.0005 (50-layer nets) or 0.0002.
#include <string>
#include <vector>

#include "crunet/nn/module.h"

namespace crunet::optim {

// The parameters weight decay applies to.
//   All:              every parameter (PyTorch's SGD default).
//   WeightsAndGammas: conv/linear weights and BN weights (gamma), not BN biases (beta) or biases:
//                     MXNet's rule (wd_mult 0 unless the name ends in _weight or _gamma), and so
//                     the paper's.
//   Weights:          conv/linear weights only (the 1-D parameters are left alone).
enum class WeightDecayScope { All, WeightsAndGammas, Weights };

// "all", "weights_and_gammas", "weights".
std::string weight_decay_scope_name(WeightDecayScope scope);
// Whether the scope decays this parameter (its state-dict name and its tensor).
bool decays(WeightDecayScope scope, const std::string& name, const Tensor& parameter);

struct SGDOptions {
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;
  // Which parameters weight decay applies to.
  WeightDecayScope decay = WeightDecayScope::All;
};

class SGD {
 public:
  SGD(std::vector<nn::NamedTensor> parameters, const SGDOptions& options);

  // One update of every parameter that has a gradient. Runs without recording autograd.
  void step();
  // Drops every parameter's gradient.
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }
  const SGDOptions& options() const { return options_; }

  // The momentum buffers, as "momentum.<parameter name>", for checkpoints.
  std::vector<nn::NamedTensor> state_dict() const;
  void load_state_dict(const std::vector<nn::NamedTensor>& state);

 private:
  struct Slot {
    std::string name;
    Tensor parameter;
    Tensor momentum;  // undefined until the first step
    bool decay;
  };
  SGDOptions options_;
  std::vector<Slot> slots_;
};

}  // namespace crunet::optim
