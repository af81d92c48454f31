#pragma once
// The pre-activation units of DESIGN.md section 3. "BNAC" is BatchNorm followed by ReLU.
#include "crunet/nn/layers.h"

namespace crunet::nn {

// BNAC: BatchNorm2d then ReLU.
class BNReLU : public Module {
 public:
  explicit BNReLU(std::int64_t channels);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "BNReLU"; }

 private:
  std::shared_ptr<BatchNorm2d> bn_;
};

// BNAC-conv: BatchNorm2d, ReLU, then a convolution without bias.
class BNReLUConv : public Module {
 public:
  BNReLUConv(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
             const ops::Conv2dParams& params = {});
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "BNReLUConv"; }

 private:
  std::shared_ptr<BNReLU> bnac_;
  std::shared_ptr<Conv2d> conv_;
};

// Pre-activation residual unit (ResNet v2 when groups = 1, ResNeXt when groups > 1):
//   shortcut = BNAC-conv 1x1/stride (in -> width) in the first unit of a stage, else x;
//   body = BNAC-conv 1x1 (in -> bottleneck) -> BNAC-conv 3x3/stride, groups (bottleneck ->
//          bottleneck) -> BNAC-conv 1x1 (bottleneck -> width);  out = shortcut + body.
struct ResidualUnitSpec {
  std::int64_t in_channels;
  std::int64_t width;       // bw, the output width
  std::int64_t bottleneck;  // D
  std::int64_t groups;      // R
  std::int64_t stride;      // s
  bool projection;          // first unit of a stage
};

class ResidualUnit : public Module {
 public:
  explicit ResidualUnit(const ResidualUnitSpec& spec);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "ResidualUnit"; }

 private:
  std::shared_ptr<BNReLUConv> proj_, a_, b_, c_;
};

// The weights one CRU share group shares: W1 (1x1, width -> bottleneck) and W3 (3x3 depthwise,
// bottleneck -> bottleneck, groups = bottleneck). Registered once, as a child of its stage; the
// units of the group hold references, and their gradients sum into W1 and W3.
class SharedFactors : public Module {
 public:
  SharedFactors(std::int64_t width, std::int64_t bottleneck);
  std::string kind() const override { return "SharedFactors"; }
  const Tensor& w1() const { return w1_; }
  const Tensor& w3() const { return w3_; }

 private:
  Tensor w1_, w3_;
};

// Collective residual unit:
//   first unit of a stage: data_o = conv1x1(BNAC_1(x), Wp); shortcut = conv1x1/s(BNAC_2(x), Wp)
//   when s > 1, else data_o (one weight, two BNs); other units: data_o = shortcut = x;
//   y = conv1x1(BNAC_a(data_o), W1); y = conv3x3/s(y, W3, groups D) (no BN or ReLU before it);
//   y = BNAC-conv 1x1 (D -> D); y = BNAC-conv 1x1 (D -> width); out = shortcut + y.
struct CollectiveUnitSpec {
  std::int64_t in_channels;
  std::int64_t width;
  std::int64_t bottleneck;
  std::int64_t stride;
  bool projection;
};

class CollectiveResidualUnit : public Module {
 public:
  CollectiveResidualUnit(const CollectiveUnitSpec& spec, std::shared_ptr<SharedFactors> shared);
  Tensor forward(const Tensor& x) override;
  std::string kind() const override { return "CollectiveResidualUnit"; }
  const std::shared_ptr<SharedFactors>& shared() const { return shared_; }

 private:
  std::int64_t stride_;
  std::int64_t bottleneck_;
  std::shared_ptr<SharedFactors> shared_;
  Tensor proj_weight_;
  std::shared_ptr<BNReLU> proj_bn1_, proj_bn2_, a_bn_;
  std::shared_ptr<BNReLUConv> b_, c_;
};

}  // namespace crunet::nn
