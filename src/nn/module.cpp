#include "crunet/nn/module.h"

#include <algorithm>
#include <map>

#include "crunet/autograd/grad_mode.h"

namespace crunet::nn {

Tensor Module::forward(const Tensor&) {
  throw NotImplementedError(kind() + " has no forward(); it holds state for other modules");
}

Tensor& Module::register_parameter(const std::string& name, Tensor* slot, const Tensor& value) {
  *slot = value;
  slot->requires_grad(true);
  parameters_.push_back({name, slot});
  return *slot;
}

Tensor& Module::register_buffer(const std::string& name, Tensor* slot, const Tensor& value) {
  *slot = value;
  buffers_.push_back({name, slot});
  return *slot;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  if (!module) throw ValueError(kind() + ": register_module('" + name + "') with a null module");
  for (const auto& child : children_) {
    if (child.first == name) throw ValueError(kind() + ": two children named '" + name + "'");
  }
  children_.emplace_back(name, std::move(module));
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& entry : children_) {
    if (entry.first == name) return entry.second;
  }
  return nullptr;
}

void Module::collect(const std::string& prefix, bool parameters, bool buffers,
                     std::vector<NamedTensor>& out, std::vector<const TensorImpl*>& seen) const {
  auto add = [&](const std::vector<Slot>& slots) {
    for (const Slot& slot : slots) {
      const TensorImpl* impl = slot.tensor->impl_ptr().get();
      if (std::find(seen.begin(), seen.end(), impl) != seen.end()) continue;
      seen.push_back(impl);
      out.emplace_back(prefix + slot.name, *slot.tensor);
    }
  };
  if (parameters) add(parameters_);
  if (buffers) add(buffers_);
  for (const auto& [name, module] : children_) {
    module->collect(prefix + name + ".", parameters, buffers, out, seen);
  }
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  std::vector<const TensorImpl*> seen;
  collect("", true, false, out, seen);
  return out;
}

std::vector<NamedTensor> Module::named_buffers() const {
  std::vector<NamedTensor> out;
  std::vector<const TensorImpl*> seen;
  collect("", false, true, out, seen);
  return out;
}

std::vector<NamedTensor> Module::state_dict() const {
  std::vector<NamedTensor> out;
  std::vector<const TensorImpl*> seen;
  collect("", true, true, out, seen);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters()) out.push_back(entry.second);
  return out;
}

void Module::load_state_dict(const std::vector<NamedTensor>& state, bool strict) {
  std::map<std::string, Tensor> given(state.begin(), state.end());
  std::vector<std::string> problems;
  std::vector<std::pair<Tensor, Tensor>> copies;
  for (const NamedTensor& entry : state_dict()) {
    auto it = given.find(entry.first);
    if (it == given.end()) {
      if (strict) problems.push_back("missing '" + entry.first + "'");
      continue;
    }
    const Tensor& source = it->second;
    if (source.shape() != entry.second.shape()) {
      problems.push_back("'" + entry.first + "' has shape " + shape_str(source.shape()) +
                         ", the model expects " + shape_str(entry.second.shape()));
    } else if (source.dtype() != entry.second.dtype()) {
      problems.push_back("'" + entry.first + "' is " + dtype_name(source.dtype()) +
                         ", the model expects " + dtype_name(entry.second.dtype()));
    } else {
      copies.emplace_back(entry.second, source);
    }
    given.erase(it);
  }
  if (strict) {
    for (const auto& [name, tensor] : given) problems.push_back("unexpected '" + name + "'");
  }
  if (!problems.empty()) {
    std::string message = "load_state_dict: " + std::to_string(problems.size()) + " mismatch" +
                          (problems.size() > 1 ? "es" : "") + ":";
    for (const std::string& problem : problems) message += "\n  " + problem;
    throw ValueError(message);
  }
  NoGradGuard no_grad;
  for (auto& [destination, source] : copies) destination.copy_(source);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& entry : children_) entry.second->train(on);
}

void Module::collect_slots(std::vector<Tensor*>& out, bool parameters, bool buffers,
                           std::vector<const Module*>& seen) {
  if (std::find(seen.begin(), seen.end(), this) != seen.end()) return;
  seen.push_back(this);
  if (parameters) {
    for (Slot& slot : parameters_) out.push_back(slot.tensor);
  }
  if (buffers) {
    for (Slot& slot : buffers_) out.push_back(slot.tensor);
  }
  for (auto& entry : children_) entry.second->collect_slots(out, parameters, buffers, seen);
}

void Module::zero_grad() {
  std::vector<Tensor*> slots;
  std::vector<const Module*> seen;
  collect_slots(slots, true, false, seen);
  for (Tensor* slot : slots) slot->set_grad(Tensor());
}

void Module::to(const Device& device) {
  std::vector<Tensor*> slots;
  std::vector<const Module*> seen;
  collect_slots(slots, true, false, seen);
  for (Tensor* slot : slots) *slot = slot->detach().to(device).detach().requires_grad(true);
  slots.clear();
  seen.clear();
  collect_slots(slots, false, true, seen);
  for (Tensor* slot : slots) *slot = slot->to(device);
}

std::int64_t count_parameters(const Module& module) {
  std::int64_t count = 0;
  for (const NamedTensor& entry : module.named_parameters()) count += entry.second.numel();
  return count;
}

}  // namespace crunet::nn
