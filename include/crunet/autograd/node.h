#pragma once
// A node of the define-by-run graph: the op's name, where its input gradients go, and a closure
// that computes them from the output gradient. The closure captures only what backward needs and
// is destroyed as soon as the node has run, which frees the saved tensors.
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "crunet/core/tensor.h"

namespace crunet::autograd {

class Node;

// Where one input's gradient goes: to the node that produced the input, or to a leaf's .grad.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool empty() const { return !node && !leaf; }
};

// Returns one gradient per input, in input order; an undefined Tensor where none is needed.
using BackwardFunction = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

class Node {
 public:
  Node(std::string name, std::vector<Edge> next_edges, BackwardFunction backward)
      : name_(std::move(name)), next_edges_(std::move(next_edges)), backward_(std::move(backward)) {}

  const std::string& name() const { return name_; }
  const std::vector<Edge>& next_edges() const { return next_edges_; }
  bool released() const { return !backward_; }
  // Runs the closure once, then releases it (and with it the saved tensors).
  std::vector<Tensor> apply(const Tensor& grad_output);

 private:
  std::string name_;
  std::vector<Edge> next_edges_;
  BackwardFunction backward_;
};

// True when grad mode is on and at least one of the inputs requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `output` the result of a new node over `inputs`. Call only when needs_grad(inputs).
void record(const char* name, Tensor& output, const std::vector<Tensor>& inputs,
            BackwardFunction backward);

}  // namespace crunet::autograd
