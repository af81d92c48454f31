#include "crunet/models/network.h"

#include "crunet/core/error.h"
#include "crunet/ops/global_avg_pool.h"
#include "unit_registry.h"

namespace crunet::models {

void Stage::add_unit(std::shared_ptr<nn::Module> unit) {
  units_.push_back(unit);
  register_module("unit" + std::to_string(units_.size()), std::move(unit));
}

void Stage::add_shared(std::shared_ptr<nn::SharedFactors> shared) {
  register_module("share" + std::to_string(++shared_count_), std::move(shared));
}

Tensor Stage::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& unit : units_) y = unit->forward(y);
  return y;
}

Network::Network(const ModelSpec& spec) : spec_(spec) {
  stem_ = register_module("stem", std::make_shared<nn::Sequential>());
  if (spec.stem.type == "imagenet") {
    stem_->push_back("conv", std::make_shared<nn::Conv2d>(spec.in_channels, spec.stem.width, 7,
                                                          ops::Conv2dParams{2, 3, 1}));
    stem_->push_back("bnac", std::make_shared<nn::BNReLU>(spec.stem.width));
    stem_->push_back("pool", std::make_shared<nn::MaxPool2d>(ops::Pool2dParams{3, 2, 1}));
  } else {
    stem_->push_back("conv", std::make_shared<nn::Conv2d>(spec.in_channels, spec.stem.width, 3,
                                                          ops::Conv2dParams{spec.stem.stride, 1, 1}));
    stem_->push_back("bnac", std::make_shared<nn::BNReLU>(spec.stem.width));
  }
  std::int64_t channels = spec.stem.width;
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& stage = spec.stages[i];
    auto it = unit_types().find(stage.unit);
    if (it == unit_types().end()) {
      throw UserError(stage.source + ": unknown unit type '" + stage.unit + "'");
    }
    stages_.push_back(register_module("stage" + std::to_string(i + 1),
                                      it->second.build(stage, channels)));
    channels = stage.width;
  }
  head_bnac_ = register_module("head", std::make_shared<nn::BNReLU>(channels));
  fc_ = register_module("fc", std::make_shared<nn::Linear>(channels, spec.classes));
}

Tensor Network::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != spec_.in_channels) {
    throw ValueError(spec_.name + ": input must be [N, " + std::to_string(spec_.in_channels) +
                     ", H, W], got " + shape_str(x.shape()));
  }
  Tensor y = stem_->forward(x);
  for (const auto& stage : stages_) y = stage->forward(y);
  return fc_->forward(ops::global_avg_pool(head_bnac_->forward(y)));
}

std::shared_ptr<Network> build(const ModelSpec& spec) { return std::make_shared<Network>(spec); }

std::shared_ptr<Network> build(const std::string& name_or_path) {
  return build(load_model_spec(name_or_path));
}

}  // namespace crunet::models
