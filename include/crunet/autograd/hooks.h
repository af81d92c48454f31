#pragma once
// Grad-ready hooks on leaves: a callback when backward() has finished a leaf's gradient for the
// pass, that is when every edge into the leaf from the graph reachable from the root has
// delivered (or declined to deliver) its contribution. A leaf used several times - a CRU share
// group's W1, used by every unit of the group - fires once, after its last use. This is what
// data-parallel training hooks to start all-reducing gradients while backward still runs.
//
// The hook receives the leaf; leaf.grad() is final for this pass (it may be undefined when no
// reached use produced a gradient, or hold earlier passes' contributions when gradients are
// accumulated over several backward() calls). A leaf that the root does not reach is not called.
// Hooks run on the thread that runs backward(), with grad mode off, in registration order.
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "crunet/core/tensor.h"

namespace crunet::autograd {

using GradReadyHook = std::function<void(const Tensor& leaf)>;

// The hooks of one leaf, held by its TensorImpl.
struct LeafHooks {
  std::vector<std::pair<std::uint64_t, GradReadyHook>> hooks;
  std::uint64_t next_id = 1;
};

// Removes its hook when destroyed (or on remove()); movable, not copyable.
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(std::weak_ptr<LeafHooks> hooks, std::uint64_t id) : hooks_(std::move(hooks)), id_(id) {}
  ~HookHandle() { remove(); }
  HookHandle(HookHandle&& other) noexcept : hooks_(std::move(other.hooks_)), id_(other.id_) {
    other.id_ = 0;
  }
  HookHandle& operator=(HookHandle&& other) noexcept;
  HookHandle(const HookHandle&) = delete;
  HookHandle& operator=(const HookHandle&) = delete;
  void remove();

 private:
  std::weak_ptr<LeafHooks> hooks_;
  std::uint64_t id_ = 0;
};

// Registers a hook on a leaf (a tensor that requires grad and has no grad_fn). The hook lives in
// the leaf's TensorImpl: a module moved to another device has new tensors, so register after
// the move.
[[nodiscard]] HookHandle register_grad_ready_hook(const Tensor& leaf, GradReadyHook hook);

// Runs a leaf's hooks; the engine calls it.
void run_grad_ready_hooks(const std::shared_ptr<TensorImpl>& leaf);

}  // namespace crunet::autograd
