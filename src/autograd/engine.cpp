// The backward pass: one walk over the graph in reverse topological order (Kahn's algorithm on the
// nodes reachable from the root). Gradient rule: into activations the first contribution is
// assigned and later ones summed out of place; into leaves (parameters) gradients accumulate, so a
// weight used by several ops - a CRU share group's W1 - receives the sum over all its uses.
// Leaves with grad-ready hooks (crunet/autograd/hooks.h) have their reachable uses counted too; the
// hooks fire when the last one has delivered, while the rest of the graph is still running.
#include <unordered_map>
#include <vector>

#include "crunet/autograd/grad_mode.h"
#include "crunet/autograd/hooks.h"
#include "crunet/autograd/node.h"
#include "crunet/core/elementwise.h"

namespace crunet {
namespace {

void accumulate_into_leaf(const std::shared_ptr<TensorImpl>& leaf_impl, const Tensor& grad) {
  TensorImpl& leaf = *leaf_impl;
  if (!leaf.grad) {
    // A fresh copy, because the same gradient tensor may also flow to another input (add's
    // backward), in the leaf's own layout (NCHW or channels-last), as PyTorch does.
    Tensor fresh = empty(grad.shape(), TensorOptions(grad.dtype(), grad.device()),
                         Tensor(leaf_impl).memory_format());
    fresh.copy_(grad);
    leaf.grad = fresh.impl_ptr();
  } else {
    add_inplace(Tensor(leaf.grad), grad);
  }
}

// In a's memory format: the gradients of a channels-last activation stay channels-last.
Tensor sum_gradients(const Tensor& a, const Tensor& b) {
  Tensor sum = empty_like(a);
  sum.copy_(a);
  add_inplace(sum, b);
  return sum;
}

void check_leaf_gradient(const autograd::Node& node, std::size_t input, const Tensor& grad,
                         const TensorImpl& leaf) {
  if (grad.shape() != leaf.shape) {
    throw RuntimeError("autograd node '" + node.name() + "' gave input " + std::to_string(input) +
                       " a gradient of shape " + shape_str(grad.shape()) + ", expected " +
                       shape_str(leaf.shape));
  }
}

bool has_hooks(const TensorImpl& leaf) { return leaf.hooks && !leaf.hooks->hooks.empty(); }

}  // namespace

void Tensor::backward(const Tensor& gradient) const {
  Tensor seed = gradient;
  if (!seed.defined()) {
    if (numel() != 1) {
      throw ValueError("backward() without a gradient needs a scalar, got shape " +
                       shape_str(shape()));
    }
    seed = ones(shape(), TensorOptions(dtype(), device()));
  } else if (seed.shape() != shape()) {
    throw ValueError("backward(): gradient shape " + shape_str(seed.shape()) +
                     " does not match tensor shape " + shape_str(shape()));
  }
  if (!requires_grad()) {
    throw ValueError("backward() on a tensor that does not require grad and has no grad_fn");
  }
  NoGradGuard no_grad;  // backward closures must not record
  if (!grad_fn()) {
    accumulate_into_leaf(impl_ptr(), seed);
    autograd::run_grad_ready_hooks(impl_ptr());
    return;
  }

  // Count, for every reachable node, how many reachable nodes feed gradients into it, and for
  // every hooked leaf how many reachable edges end in it.
  std::unordered_map<autograd::Node*, int> dependencies;
  std::unordered_map<TensorImpl*, int> leaf_uses;
  std::vector<autograd::Node*> stack{grad_fn().get()};
  dependencies[grad_fn().get()] = 0;
  while (!stack.empty()) {
    autograd::Node* node = stack.back();
    stack.pop_back();
    for (const autograd::Edge& edge : node->next_edges()) {
      if (edge.leaf && has_hooks(*edge.leaf)) ++leaf_uses[edge.leaf.get()];
      if (!edge.node) continue;
      auto [it, inserted] = dependencies.try_emplace(edge.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(edge.node.get());
    }
  }

  std::unordered_map<autograd::Node*, Tensor> pending;
  pending[grad_fn().get()] = seed;
  std::vector<autograd::Node*> ready{grad_fn().get()};
  while (!ready.empty()) {
    autograd::Node* node = ready.back();
    ready.pop_back();
    Tensor grad_output;
    if (auto it = pending.find(node); it != pending.end()) {
      grad_output = std::move(it->second);
      pending.erase(it);
    }
    const std::vector<autograd::Edge>& edges = node->next_edges();
    // A node that no gradient reached still releases its inputs' dependency counts.
    std::vector<Tensor> grads =
        grad_output.defined() ? node->apply(grad_output) : std::vector<Tensor>(edges.size());
    grad_output = Tensor();
    for (std::size_t i = 0; i < edges.size(); ++i) {
      const autograd::Edge& edge = edges[i];
      const Tensor& grad = grads[i];
      if (edge.node) {
        autograd::Node* next = edge.node.get();
        if (grad.defined()) {
          auto it = pending.find(next);
          if (it == pending.end()) {
            pending.emplace(next, grad);
          } else {
            it->second = sum_gradients(it->second, grad);
          }
        }
        if (--dependencies[next] == 0) ready.push_back(next);
      } else if (edge.leaf) {
        if (grad.defined()) {
          check_leaf_gradient(*node, i, grad, *edge.leaf);
          accumulate_into_leaf(edge.leaf, grad);
        }
        if (auto it = leaf_uses.find(edge.leaf.get()); it != leaf_uses.end() && --it->second == 0) {
          autograd::run_grad_ready_hooks(edge.leaf);
        }
      }
    }
  }
}

}  // namespace crunet
