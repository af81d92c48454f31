#include "crunet/nn/autocast.h"
#include "crunet/nn/init.h"
#include "crunet/nn/units.h"
#include "crunet/ops/add.h"

namespace crunet::nn {

SharedFactors::SharedFactors(std::int64_t width, std::int64_t bottleneck) {
  register_parameter("w1", &w1_, init::kaiming_normal({bottleneck, width, 1, 1}));
  register_parameter("w3", &w3_, init::kaiming_normal({bottleneck, 1, 3, 3}));
}

CollectiveResidualUnit::CollectiveResidualUnit(const CollectiveUnitSpec& spec,
                                               std::shared_ptr<SharedFactors> shared)
    : stride_(spec.stride), bottleneck_(spec.bottleneck), shared_(std::move(shared)) {
  if (!shared_ || shared_->w1().size(0) != spec.bottleneck || shared_->w1().size(1) != spec.width) {
    throw ValueError("CollectiveResidualUnit: shared factors do not match width " +
                     std::to_string(spec.width) + " and bottleneck " +
                     std::to_string(spec.bottleneck));
  }
  if (spec.projection) {
    register_parameter("proj_weight", &proj_weight_,
                       init::kaiming_normal({spec.width, spec.in_channels, 1, 1}));
    proj_bn1_ = register_module("proj_bn1", std::make_shared<BNReLU>(spec.in_channels));
    if (spec.stride > 1) {
      proj_bn2_ = register_module("proj_bn2", std::make_shared<BNReLU>(spec.in_channels));
    }
  } else if (spec.in_channels != spec.width || spec.stride != 1) {
    throw ValueError("CollectiveResidualUnit without projection needs in_channels == width (" +
                     std::to_string(spec.in_channels) + " vs " + std::to_string(spec.width) +
                     ") and stride 1");
  }
  a_bn_ = register_module("a_bn", std::make_shared<BNReLU>(spec.width));
  b_ = register_module("b", std::make_shared<BNReLUConv>(spec.bottleneck, spec.bottleneck, 1));
  c_ = register_module("c", std::make_shared<BNReLUConv>(spec.bottleneck, spec.width, 1));
}

Tensor CollectiveResidualUnit::forward(const Tensor& x) {
  Tensor data_o = x;
  Tensor shortcut = x;
  if (proj_weight_.defined()) {
    data_o = autocast_conv2d(proj_bn1_->forward(x), proj_weight_);
    shortcut = proj_bn2_ ? autocast_conv2d(proj_bn2_->forward(x), proj_weight_,
                                           Tensor(), ops::Conv2dParams{stride_, 0, 1})
                         : data_o;
  }
  Tensor y = autocast_conv2d(a_bn_->forward(data_o), shared_->w1());
  y = autocast_conv2d(y, shared_->w3(), Tensor(), ops::Conv2dParams{stride_, 1, bottleneck_});
  return ops::add(shortcut, c_->forward(b_->forward(y)));
}

}  // namespace crunet::nn
