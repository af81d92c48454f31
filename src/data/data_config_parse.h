#pragma once
// Parsing of the `data` section of a training config (keys, defaults and ranges: docs/data.md).
#include "config/yaml_reader.h"
#include "crunet/data/config.h"

namespace crunet::data {

// Every map is checked for unknown keys; a value out of range is a UserError naming the file,
// the line and the key. Paths are not checked here (make_dataset does that).
DataConfig parse_data_config(const config::YamlReader& section);

}  // namespace crunet::data
