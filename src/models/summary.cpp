#include "crunet/models/summary.h"

#include "crunet/ops/conv2d.h"
#include "crunet/ops/max_pool2d.h"
#include "unit_registry.h"

namespace crunet::models {

ModelSummary summarize(const Network& network) {
  const ModelSpec& spec = network.spec();
  ModelSummary summary;
  summary.name = spec.name;

  StageSummary stem;
  stem.name = "stem";
  stem.unit = spec.stem.type;
  stem.width = spec.stem.width;
  stem.parameters = nn::count_parameters(*network.child("stem"));
  const std::int64_t cin = spec.in_channels, c = spec.stem.width, size = spec.input_size;
  std::int64_t h, w;
  if (spec.stem.type == "imagenet") {
    const std::int64_t conv = ops::conv2d_output_size(size, 7, ops::Conv2dParams{2, 3, 1});
    stem.macs = c * cin * 49 * conv * conv;
    h = w = ops::pool2d_output_size(conv, ops::Pool2dParams{3, 2, 1});
    stem.activations = 3 * c * conv * conv + c * h * w;  // conv, BN, ReLU outputs, pool output
  } else {
    h = w = ops::conv2d_output_size(size, 3, ops::Conv2dParams{spec.stem.stride, 1, 1});
    stem.macs = c * cin * 9 * h * w;
    stem.activations = 3 * c * h * w;
  }
  stem.output_shape = {c, h, w};
  summary.stages.push_back(stem);

  std::int64_t channels = c;
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& stage = spec.stages[i];
    const UnitType& type = unit_types().at(stage.unit);
    StageSummary row;
    row.name = "stage" + std::to_string(i + 1);
    row.unit = stage.unit;
    row.units = stage.units;
    row.width = stage.width;
    row.bottleneck = stage.bottleneck;
    row.groups = stage.groups;
    row.share_groups = stage.share > 0 ? stage.units / stage.share : 0;
    row.parameters = nn::count_parameters(*network.stages()[i]);
    for (std::int64_t u = 0; u < stage.units; ++u) {
      const UnitCost cost = type.cost(stage, u, channels, h, w);
      row.macs += cost.macs;
      row.activations += cost.activations;
      channels = cost.out_channels;
      h = cost.out_height;
      w = cost.out_width;
    }
    row.output_shape = {channels, h, w};
    summary.stages.push_back(row);
  }

  StageSummary head;
  head.name = "head";
  head.unit = "bnac+pool+fc";
  head.width = spec.classes;
  head.parameters = nn::count_parameters(*network.child("head")) +
                    nn::count_parameters(*network.child("fc"));
  head.macs = channels * spec.classes;
  head.activations = 2 * channels * h * w + channels + spec.classes;
  head.output_shape = {spec.classes};
  summary.stages.push_back(head);

  for (const StageSummary& row : summary.stages) {
    summary.macs += row.macs;
    summary.activations_per_image += row.activations;
  }
  summary.parameters = nn::count_parameters(network);
  return summary;
}

}  // namespace crunet::models
