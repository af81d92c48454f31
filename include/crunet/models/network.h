#pragma once
#include <memory>

#include "crunet/models/spec.h"
#include "crunet/nn/layers.h"
#include "crunet/nn/units.h"

namespace crunet::models {

// A stage: its units in order, and (for CRU stages) the share groups they reference.
class Stage : public nn::Module {
 public:
  void add_unit(std::shared_ptr<nn::Module> unit);
  void add_shared(std::shared_ptr<nn::SharedFactors> shared);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "Stage"; }
  const std::vector<std::shared_ptr<nn::Module>>& units() const { return units_; }

 private:
  std::vector<std::shared_ptr<nn::Module>> units_;
  std::int64_t shared_count_ = 0;
};

// stem -> stages -> head (BNAC, global average pool, fully connected) -> logits [N, classes].
class Network : public nn::Module {
 public:
  explicit Network(const ModelSpec& spec);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "Network"; }
  const ModelSpec& spec() const { return spec_; }
  const std::vector<std::shared_ptr<Stage>>& stages() const { return stages_; }

 private:
  ModelSpec spec_;
  std::shared_ptr<nn::Sequential> stem_;
  std::vector<std::shared_ptr<Stage>> stages_;
  std::shared_ptr<nn::BNReLU> head_bnac_;
  std::shared_ptr<nn::Linear> fc_;
};

// Builds a network from a spec, or from a zoo name / YAML path. Weights are freshly initialised
// from the default generator (crunet::manual_seed).
std::shared_ptr<Network> build(const ModelSpec& spec);
std::shared_ptr<Network> build(const std::string& name_or_path);

}  // namespace crunet::models
