#include "crunet/autograd/hooks.h"

#include <algorithm>

namespace crunet::autograd {

HookHandle& HookHandle::operator=(HookHandle&& other) noexcept {
  if (this != &other) {
    remove();
    hooks_ = std::move(other.hooks_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void HookHandle::remove() {
  if (id_ == 0) return;
  if (const std::shared_ptr<LeafHooks> hooks = hooks_.lock()) {
    auto& list = hooks->hooks;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [this](const auto& entry) { return entry.first == id_; }),
               list.end());
  }
  hooks_.reset();
  id_ = 0;
}

HookHandle register_grad_ready_hook(const Tensor& leaf, GradReadyHook hook) {
  if (!leaf.defined() || !leaf.requires_grad() || !leaf.is_leaf()) {
    throw ValueError("register_grad_ready_hook: needs a leaf that requires grad, got " +
                     (leaf.defined() ? leaf.description() +
                                           (leaf.is_leaf() ? " without requires_grad"
                                                           : " that is not a leaf")
                                     : std::string("an undefined tensor")));
  }
  if (!hook) throw ValueError("register_grad_ready_hook: empty hook");
  TensorImpl& impl = leaf.impl();
  if (!impl.hooks) impl.hooks = std::make_shared<LeafHooks>();
  const std::uint64_t id = impl.hooks->next_id++;
  impl.hooks->hooks.emplace_back(id, std::move(hook));
  return HookHandle(impl.hooks, id);
}

void run_grad_ready_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  if (!leaf->hooks || leaf->hooks->hooks.empty()) return;
  // A copy: a hook may remove itself (or others) while running.
  const auto hooks = leaf->hooks->hooks;
  const Tensor tensor(leaf);
  for (const auto& entry : hooks) entry.second(tensor);
}

}  // namespace crunet::autograd
