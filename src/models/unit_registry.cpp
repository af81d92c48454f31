#include "unit_registry.h"

#include "crunet/core/error.h"

namespace crunet::models {
namespace {

std::int64_t positive(const YamlReader& stage, const std::string& key, std::int64_t value) {
  if (value <= 0) {
    stage.report(key, "must be a positive integer, got " + std::to_string(value));
    return 1;  // when collecting problems, parsing goes on with a harmless value
  }
  return value;
}

// The keys every unit type has: unit, units, width, bottleneck, stride.
StageSpec parse_common(const YamlReader& stage, std::size_t index) {
  StageSpec spec;
  spec.unit = stage.text("unit");
  spec.units = positive(stage, "units", stage.integer("units"));
  spec.width = positive(stage, "width", stage.integer("width"));
  spec.bottleneck = positive(stage, "bottleneck", stage.integer("bottleneck"));
  spec.stride = stage.integer("stride", index == 0 ? 1 : 2);
  if (spec.stride != 1 && spec.stride != 2) {
    stage.report("stride", "must be 1 or 2, got " + std::to_string(spec.stride));
  }
  spec.source = stage.where("unit");
  return spec;
}

std::int64_t strided(std::int64_t extent, std::int64_t stride) { return (extent - 1) / stride + 1; }

StageSpec parse_residual(const YamlReader& stage, std::size_t index) {
  stage.check_keys({"unit", "units", "width", "bottleneck", "groups", "stride"});
  StageSpec spec = parse_common(stage, index);
  spec.groups = positive(stage, "groups", stage.integer("groups", 1));
  if (spec.bottleneck % spec.groups != 0) {
    stage.report("groups", "bottleneck " + std::to_string(spec.bottleneck) +
                             " is not divisible by groups " + std::to_string(spec.groups));
  }
  return spec;
}

std::shared_ptr<Stage> build_residual(const StageSpec& spec, std::int64_t in_channels) {
  auto stage = std::make_shared<Stage>();
  for (std::int64_t u = 0; u < spec.units; ++u) {
    const bool first = u == 0;
    stage->add_unit(std::make_shared<nn::ResidualUnit>(nn::ResidualUnitSpec{
        first ? in_channels : spec.width, spec.width, spec.bottleneck, spec.groups,
        first ? spec.stride : 1, first}));
  }
  return stage;
}

UnitCost cost_residual(const StageSpec& spec, std::int64_t unit, std::int64_t cin, std::int64_t h,
                       std::int64_t w) {
  const std::int64_t s = unit == 0 ? spec.stride : 1;
  const std::int64_t ho = strided(h, s), wo = strided(w, s);
  const std::int64_t d = spec.bottleneck, bw = spec.width;
  UnitCost cost;
  cost.macs = d * cin * h * w + d * (d / spec.groups) * 9 * ho * wo + bw * d * ho * wo;
  // BN, ReLU and conv outputs of a (at input size), b and c, and the sum.
  cost.activations = 2 * cin * h * w + d * h * w + 2 * d * h * w + d * ho * wo +
                     2 * d * ho * wo + bw * ho * wo + bw * ho * wo;
  if (unit == 0) {
    cost.macs += bw * cin * ho * wo;
    cost.activations += 2 * cin * h * w + bw * ho * wo;
  }
  cost.out_channels = bw;
  cost.out_height = ho;
  cost.out_width = wo;
  return cost;
}

StageSpec parse_collective(const YamlReader& stage, std::size_t index) {
  stage.check_keys({"unit", "units", "width", "bottleneck", "groups", "share", "stride"});
  StageSpec spec = parse_common(stage, index);
  // The 3x3 factor of a CRU is depthwise: its groups are its channels.
  spec.groups = stage.integer("groups", spec.bottleneck);
  if (spec.groups != spec.bottleneck) {
    stage.report("groups", "a 'cru' stage's 3x3 convolution is depthwise: groups must equal "
                         "bottleneck (" + std::to_string(spec.bottleneck) + "), got " +
                             std::to_string(spec.groups));
  }
  spec.share = positive(stage, "share", stage.integer("share"));
  if (spec.share > spec.units || spec.units % spec.share != 0) {
    stage.report("share", "share groups of " + std::to_string(spec.share) +
                            " units do not fit a stage of " + std::to_string(spec.units) +
                            " units (units must be a multiple of share)");
  }
  return spec;
}

std::shared_ptr<Stage> build_collective(const StageSpec& spec, std::int64_t in_channels) {
  auto stage = std::make_shared<Stage>();
  std::shared_ptr<nn::SharedFactors> shared;
  for (std::int64_t u = 0; u < spec.units; ++u) {
    if (u % spec.share == 0) {
      shared = std::make_shared<nn::SharedFactors>(spec.width, spec.bottleneck);
      stage->add_shared(shared);
    }
    const bool first = u == 0;
    stage->add_unit(std::make_shared<nn::CollectiveResidualUnit>(
        nn::CollectiveUnitSpec{first ? in_channels : spec.width, spec.width, spec.bottleneck,
                               first ? spec.stride : 1, first},
        shared));
  }
  return stage;
}

UnitCost cost_collective(const StageSpec& spec, std::int64_t unit, std::int64_t cin,
                         std::int64_t h, std::int64_t w) {
  const std::int64_t s = unit == 0 ? spec.stride : 1;
  const std::int64_t ho = strided(h, s), wo = strided(w, s);
  const std::int64_t d = spec.bottleneck, bw = spec.width;
  UnitCost cost;
  // W1 on data_o at full resolution, W3 (depthwise, stride s), the unit's own 1x1s.
  cost.macs = d * bw * h * w + d * 9 * ho * wo + d * d * ho * wo + bw * d * ho * wo;
  cost.activations = 2 * bw * h * w + d * h * w + d * ho * wo + 2 * d * ho * wo + d * ho * wo +
                     2 * d * ho * wo + bw * ho * wo + bw * ho * wo;
  if (unit == 0) {
    cost.macs += bw * cin * h * w;  // data_o = Wp (stride 1)
    cost.activations += 2 * cin * h * w + bw * h * w;
    if (s > 1) {
      cost.macs += bw * cin * ho * wo;  // shortcut = Wp (stride s)
      cost.activations += 2 * cin * h * w + bw * ho * wo;
    }
  }
  cost.out_channels = bw;
  cost.out_height = ho;
  cost.out_width = wo;
  return cost;
}

}  // namespace

const std::map<std::string, UnitType>& unit_types() {
  static const std::map<std::string, UnitType> types = {
      {"res", UnitType{parse_residual, build_residual, cost_residual}},
      {"cru", UnitType{parse_collective, build_collective, cost_collective}},
  };
  return types;
}

}  // namespace crunet::models
