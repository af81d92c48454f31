#pragma once
// Module: named parameters, buffers and child modules, train/eval mode, state dict, as
// torch.nn.Module. A module owns its tensors through slots (pointers to its own members), so moving
// it to a device or loading a state dict replaces the tensors its forward() reads.
//
// Sharing: a module may be referenced by several others (a CRU share group's SharedFactors is used
// by all its units) but is registered as a child of one parent only; named_parameters() lists each
// tensor once even if it were reachable twice.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crunet/core/tensor.h"

namespace crunet::nn {

using NamedTensor = std::pair<std::string, Tensor>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Modules with one input and one output implement forward; containers of state (SharedFactors)
  // do not, and calling it is an error.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // A short name of the kind of module, "Conv2d", for printing and errors.
  virtual std::string kind() const = 0;

  std::vector<Tensor> parameters() const;
  std::vector<NamedTensor> named_parameters() const;
  std::vector<NamedTensor> named_buffers() const;
  // Parameters and buffers, in registration order, depth first: what save_weights writes.
  std::vector<NamedTensor> state_dict() const;
  // Copies values in by name. Every name, shape and dtype must match; all mismatches are reported
  // together in one ValueError. With strict = false, missing and unexpected names are allowed.
  void load_state_dict(const std::vector<NamedTensor>& state, bool strict = true);

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  std::shared_ptr<Module> child(const std::string& name) const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops every parameter's gradient.
  void zero_grad();
  // Moves parameters and buffers (keeping requires_grad) to a device.
  void to(const Device& device);

 protected:
  // Registers *slot under name, stores value in it (marked requires_grad) and returns it.
  Tensor& register_parameter(const std::string& name, Tensor* slot, const Tensor& value);
  Tensor& register_buffer(const std::string& name, Tensor* slot, const Tensor& value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  struct Slot {
    std::string name;
    Tensor* tensor;
  };
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, bool parameters, bool buffers,
               std::vector<NamedTensor>& out, std::vector<const TensorImpl*>& seen) const;
  void collect_slots(std::vector<Tensor*>& out, bool parameters, bool buffers,
                     std::vector<const Module*>& seen);

  std::vector<Slot> parameters_;
  std::vector<Slot> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Total number of scalar parameters (each shared tensor counted once).
std::int64_t count_parameters(const Module& module);

}  // namespace crunet::nn
