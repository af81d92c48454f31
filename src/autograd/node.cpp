#include "crunet/autograd/node.h"

#include "crunet/autograd/grad_mode.h"

namespace crunet::autograd {

std::vector<Tensor> Node::apply(const Tensor& grad_output) {
  if (!backward_) {
    throw ValueError("backward through '" + name_ +
                     "' a second time: its saved tensors were already freed");
  }
  BackwardFunction backward = std::move(backward_);
  backward_ = nullptr;
  std::vector<Tensor> grads = backward(grad_output);
  if (grads.size() != next_edges_.size()) {
    throw RuntimeError("autograd node '" + name_ + "' returned " + std::to_string(grads.size()) +
                       " gradients for " + std::to_string(next_edges_.size()) + " inputs");
  }
  return grads;  // `backward` and its captured tensors die here
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& input : inputs) {
    if (input.defined() && input.requires_grad()) return true;
  }
  return false;
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  return needs_grad(std::vector<Tensor>(inputs));
}

void record(const char* name, Tensor& output, const std::vector<Tensor>& inputs,
            BackwardFunction backward) {
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      if (input.grad_fn()) {
        edge.node = input.grad_fn();
      } else {
        edge.leaf = input.impl_ptr();
      }
    }
    edges.push_back(std::move(edge));
  }
  output.impl().grad_fn = std::make_shared<Node>(name, std::move(edges), std::move(backward));
}

}  // namespace crunet::autograd
