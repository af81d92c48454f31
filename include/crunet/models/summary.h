#pragma once
// What a model costs, computed from its spec: parameters (from the built network), multiply-adds
// of one forward pass per image, a per-stage table and an activation-memory estimate.
#include <cstdint>
#include <string>
#include <vector>

#include "crunet/models/network.h"

namespace crunet::models {

struct StageSummary {
  std::string name;          // "stem", "stage1", ..., "head"
  std::string unit;          // unit type, or the stem type
  std::int64_t units = 0;
  std::int64_t width = 0;
  std::int64_t bottleneck = 0;
  std::int64_t groups = 0;
  std::int64_t share_groups = 0;
  std::int64_t parameters = 0;
  std::int64_t macs = 0;     // multiply-adds for one image
  std::int64_t activations = 0;  // elements kept for backward per image (an estimate)
  std::vector<std::int64_t> output_shape;  // [C, H, W] or [classes]
};

struct ModelSummary {
  std::string name;
  std::int64_t parameters = 0;
  std::int64_t macs = 0;
  std::int64_t activations_per_image = 0;
  std::vector<StageSummary> stages;
  // Bytes of float32 activations a training step at this batch keeps for backward.
  std::int64_t activation_bytes(std::int64_t batch) const { return activations_per_image * batch * 4; }
};

ModelSummary summarize(const Network& network);

}  // namespace crunet::models
