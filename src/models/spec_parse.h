#pragma once
// Parsing a model spec out of a YAML map that may sit inside a larger document (a training
// config's `model:` section), so that messages keep the document's lines and key paths.
#include "config/yaml_reader.h"
#include "crunet/models/spec.h"

namespace crunet::models {

ModelSpec parse_model_spec(const config::YamlReader& spec);

}  // namespace crunet::models
