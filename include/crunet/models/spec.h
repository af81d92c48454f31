#pragma once
// A model is data: a YAML spec (input, stem, stages, classes). See docs/config.md and
// configs/models/ for the zoo. Parsing errors are crunet::UserError naming file, line and key.
#include <cstdint>
#include <string>
#include <vector>

namespace crunet::models {

struct StemSpec {
  std::string type = "imagenet";  // "imagenet": conv 7x7/2 + BNAC + max-pool 3x3/2; "small": conv 3x3/1 + BNAC
  std::int64_t width = 64;
  std::int64_t stride = 1;        // "small" only
};

struct StageSpec {
  std::string unit;               // a registered unit type: "res" or "cru"
  std::int64_t units = 0;
  std::int64_t width = 0;         // bw, output channels of every unit
  std::int64_t bottleneck = 0;    // D
  std::int64_t groups = 1;        // R of the 3x3 convolution (= bottleneck for "cru")
  std::int64_t share = 0;         // "cru": units per share group
  std::int64_t stride = 1;        // stride of the first unit
  std::string source;             // "file:line" of the stage, for messages
};

struct ModelSpec {
  std::string name;
  std::string source;             // the file (or "<string>") it came from
  std::int64_t in_channels = 3;
  std::int64_t input_size = 224;
  std::int64_t classes = 1000;
  StemSpec stem;
  std::vector<StageSpec> stages;
};

// Reads a model spec from a YAML file, or a zoo name ("crunet56") looked up in the zoo folder.
// A training config (a file with a `model:` key naming a zoo model or file, or holding the spec)
// is accepted as well.
ModelSpec load_model_spec(const std::string& name_or_path);
// The file load_model_spec reads for a name or path (a zoo name resolved in the zoo folders);
// a UserError naming the zoo when there is none.
std::string model_spec_file(const std::string& name_or_path);
// Parses YAML text; `source` names it in messages.
ModelSpec parse_model_spec(const std::string& yaml, const std::string& source = "<string>");

// Folders searched for zoo names: $CRUNET_ZOO_DIR, then share/crunet/configs/models beside the
// installed library (<prefix>/lib/../share), the configured install prefix's, the source tree's.
std::vector<std::string> zoo_directories();
// Names of the models found in the zoo folders, sorted.
std::vector<std::string> zoo_names();

}  // namespace crunet::models
