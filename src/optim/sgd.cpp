#include "crunet/optim/sgd.h"

#include <map>

#include "crunet/autograd/grad_mode.h"
#include "sgd_update.h"

namespace crunet::optim {
namespace {

// A bias (of a conv, a linear layer, or a BN's beta) is a parameter named "bias".
bool is_bias(const std::string& name) {
  const std::string suffix = "bias";
  const bool ends_with = name.size() >= suffix.size() &&
                         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  return ends_with && (name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.');
}

}  // namespace

std::string weight_decay_scope_name(WeightDecayScope scope) {
  switch (scope) {
    case WeightDecayScope::All: return "all";
    case WeightDecayScope::WeightsAndGammas: return "weights_and_gammas";
    case WeightDecayScope::Weights: return "weights";
  }
  return "all";
}

bool decays(WeightDecayScope scope, const std::string& name, const Tensor& parameter) {
  switch (scope) {
    case WeightDecayScope::All: return true;
    case WeightDecayScope::WeightsAndGammas: return !is_bias(name);
    case WeightDecayScope::Weights: return parameter.dim() > 1;
  }
  return true;
}

SGD::SGD(std::vector<nn::NamedTensor> parameters, const SGDOptions& options) : options_(options) {
  if (!(options.lr >= 0) || !(options.momentum >= 0) || !(options.weight_decay >= 0)) {
    throw ValueError("SGD: lr, momentum and weight_decay must be non-negative");
  }
  if (options.nesterov && options.momentum <= 0) {
    throw ValueError("SGD: Nesterov momentum needs momentum > 0");
  }
  for (auto& [name, parameter] : parameters) {
    if (!parameter.requires_grad()) {
      throw ValueError("SGD: parameter '" + name + "' does not require grad");
    }
    slots_.push_back(Slot{name, parameter, Tensor(), decays(options.decay, name, parameter)});
  }
}

void SGD::step() {
  NoGradGuard no_grad;
  for (Slot& slot : slots_) {
    const Tensor grad = slot.parameter.grad();
    if (!grad.defined()) continue;
    if (grad.dtype() != DType::Float32 || slot.parameter.dtype() != DType::Float32) {
      throw NotImplementedError("SGD: parameter '" + slot.name + "' is " +
                                slot.parameter.description() + "; float32 master weights only");
    }
    const bool first = !slot.momentum.defined();
    if (first) slot.momentum = empty_like(slot.parameter);
    const SGDStep step{static_cast<float>(options_.lr), static_cast<float>(options_.momentum),
                       slot.decay ? static_cast<float>(options_.weight_decay) : 0.0f,
                       options_.nesterov, first || options_.momentum == 0.0};
    const Tensor g = grad.contiguous();
    if (slot.parameter.device().is_cpu()) {
      sgd_update_cpu(slot.parameter, g, slot.momentum, step);
    } else {
#if CRUNET_WITH_CUDA
      sgd_update_cuda(slot.parameter, g, slot.momentum, step);
#else
      throw NotImplementedError("SGD: no update for " + slot.parameter.device().str() +
                                " in this build");
#endif
    }
  }
}

void SGD::zero_grad() {
  for (Slot& slot : slots_) slot.parameter.set_grad(Tensor());
}

std::vector<nn::NamedTensor> SGD::state_dict() const {
  std::vector<nn::NamedTensor> state;
  for (const Slot& slot : slots_) {
    if (slot.momentum.defined()) state.emplace_back("momentum." + slot.name, slot.momentum);
  }
  return state;
}

void SGD::load_state_dict(const std::vector<nn::NamedTensor>& state) {
  std::map<std::string, Tensor> given(state.begin(), state.end());
  for (Slot& slot : slots_) {
    auto it = given.find("momentum." + slot.name);
    if (it == given.end()) {
      slot.momentum = Tensor();
      continue;
    }
    if (it->second.shape() != slot.parameter.shape()) {
      throw ValueError("SGD state: 'momentum." + slot.name + "' has shape " +
                       shape_str(it->second.shape()) + ", the parameter has " +
                       shape_str(slot.parameter.shape()));
    }
    slot.momentum = empty_like(slot.parameter);
    slot.momentum.copy_(it->second);
    given.erase(it);
  }
  if (!given.empty()) {
    throw ValueError("SGD state: unexpected '" + given.begin()->first + "'");
  }
}

}  // namespace crunet::optim
