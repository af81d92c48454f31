#include "crunet/nn/units.h"
#include "crunet/ops/relu.h"

namespace crunet::nn {

BNReLU::BNReLU(std::int64_t channels)
    : bn_(register_module("bn", std::make_shared<BatchNorm2d>(channels))) {}

Tensor BNReLU::forward(const Tensor& x) { return bn_->forward_relu(x); }

BNReLUConv::BNReLUConv(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
                       const ops::Conv2dParams& params)
    : bnac_(register_module("bnac", std::make_shared<BNReLU>(in_channels))),
      conv_(register_module("conv",
                            std::make_shared<Conv2d>(in_channels, out_channels, kernel, params))) {}

Tensor BNReLUConv::forward(const Tensor& x) { return conv_->forward(bnac_->forward(x)); }

}  // namespace crunet::nn
