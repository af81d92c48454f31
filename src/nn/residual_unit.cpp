#include "crunet/nn/units.h"
#include "crunet/ops/add.h"

namespace crunet::nn {

ResidualUnit::ResidualUnit(const ResidualUnitSpec& spec) {
  if (spec.projection) {
    proj_ = register_module(
        "proj", std::make_shared<BNReLUConv>(spec.in_channels, spec.width, 1,
                                             ops::Conv2dParams{spec.stride, 0, 1}));
  } else if (spec.in_channels != spec.width || spec.stride != 1) {
    throw ValueError("ResidualUnit without projection needs in_channels == width (" +
                     std::to_string(spec.in_channels) + " vs " + std::to_string(spec.width) +
                     ") and stride 1");
  }
  a_ = register_module("a", std::make_shared<BNReLUConv>(spec.in_channels, spec.bottleneck, 1));
  b_ = register_module("b", std::make_shared<BNReLUConv>(
                                spec.bottleneck, spec.bottleneck, 3,
                                ops::Conv2dParams{spec.stride, 1, spec.groups}));
  c_ = register_module("c", std::make_shared<BNReLUConv>(spec.bottleneck, spec.width, 1));
}

Tensor ResidualUnit::forward(const Tensor& x) {
  const Tensor shortcut = proj_ ? proj_->forward(x) : x;
  return ops::add(shortcut, c_->forward(b_->forward(a_->forward(x))));
}

}  // namespace crunet::nn
