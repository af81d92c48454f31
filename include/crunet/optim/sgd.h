#pragma once
// SGD with momentum, Nesterov momentum and weight decay, with PyTorch's update rule:
//   g = grad + weight_decay * p;  buf = momentum * buf + g  (buf = g on the first step);
//   update = nesterov ? g + momentum * buf : buf;  p -= lr * update.
// The paper's recipe: Nesterov momentum 0.9, weight decay 0.0005 (50-layer nets) or 0.0002.
#include <string>
#include <vector>

#include "crunet/nn/module.h"

namespace crunet::optim {

struct SGDOptions {
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;
  // Apply weight decay to BN weights/biases and FC bias as well (MXNet, and so the paper, does).
  bool decay_norm_and_bias = true;
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
