#pragma once
// The unit types the YAML builder knows ("res", "cru"). Each entry parses and checks its own stage
// keys, builds its stage, and describes one unit's cost for the summary. The table is constant.
#include <functional>
#include <map>
#include <string>

#include "crunet/models/network.h"
#include "config/yaml_reader.h"

namespace crunet::models {

using config::closest_match;
using config::load_yaml_file;
using config::parse_yaml;
using config::YamlReader;

// One unit's cost at an input of channels x height x width.
struct UnitCost {
  std::int64_t macs = 0;
  std::int64_t activations = 0;  // elements of the op outputs that backward keeps
  std::int64_t out_channels = 0, out_height = 0, out_width = 0;
};

struct UnitType {
  // Reads the stage's keys (the common ones and its own) into a StageSpec and checks them.
  // `index` is the stage's position (the first stage defaults to stride 1, the others to 2).
  std::function<StageSpec(const YamlReader& stage, std::size_t index)> parse;
  std::function<std::shared_ptr<Stage>(const StageSpec& stage, std::int64_t in_channels)> build;
  // Cost of unit `unit_index` of the stage.
  std::function<UnitCost(const StageSpec& stage, std::int64_t unit_index, std::int64_t in_channels,
                         std::int64_t height, std::int64_t width)>
      cost;
};

const std::map<std::string, UnitType>& unit_types();

}  // namespace crunet::models
