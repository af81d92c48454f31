#pragma once
// Weights from MXNet checkpoints (PREFIX-symbol.json + PREFIX-EPOCH.params, as the CRU-Net authors
// published theirs) onto a zoo model's state dict, through a name map that is a data file
// (configs/maps/mxnet_crunet.map; its format: docs/formats.md).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crunet/core/mxnet_params.h"
#include "crunet/models/spec.h"
#include "crunet/nn/module.h"

namespace crunet::models {

// One line of a name map: `param[:unit] CRUNET MXNET` or `bn[:unit] CRUNET_BN MXNET_BN`.
struct MxnetNameRule {
  std::string kind;     // "param" or "bn"
  std::string unit;     // "" (any stage), or the stage's unit type ("res", "cru")
  std::string crunet;   // with {stage} {unit} {share}
  std::string mxnet;    // with those and {block} {stride}
  std::string source;   // "file:line", for messages
};

// Parses a name map; a malformed line or an unknown placeholder is a UserError "file:line: ...".
std::vector<MxnetNameRule> parse_mxnet_name_map(const std::string& text, const std::string& source);
std::vector<MxnetNameRule> load_mxnet_name_map(const std::string& path);
// configs/maps/mxnet_crunet.map beside the zoo (models::zoo_directories()); UserError if none.
std::string default_mxnet_name_map();

// How a BatchNorm of the symbol normalises: MXNet's defaults are eps 1e-3 and fix_gamma true.
struct MxnetBatchNorm {
  double eps = 1e-3;
  bool fix_gamma = true;
};
// The BatchNorm nodes of a -symbol.json, by the name of their gamma argument
// ("conv1_x_1__relu-sp__bn_gamma"). A file that is not a symbol graph is a UserError.
std::map<std::string, MxnetBatchNorm> read_mxnet_symbol_batch_norms(const std::string& path);
std::map<std::string, MxnetBatchNorm> parse_mxnet_symbol_batch_norms(const std::string& json,
                                                                     const std::string& source);

struct MxnetImport {
  std::vector<nn::NamedTensor> state;   // the module's whole state dict, filled
  std::int64_t arrays_used = 0;
  std::vector<std::string> problems;    // crunet names without a rule or array, shape mismatches
  std::vector<std::string> unused;      // MXNet arrays no rule took
};

// For each tensor of module.state_dict() (num_batches_tracked left out): the MXNet array the first
// matching rule names ("arg:fc6_weight"), or "" when no rule matches.
std::vector<std::pair<std::string, std::string>> mxnet_names(
    const nn::Module& module, const ModelSpec& spec, const std::vector<MxnetNameRule>& rules);

// Maps `arrays` onto module.state_dict() (the module built from `spec`). BN running variances are
// shifted by MXNet's eps minus crunet's (1e-5), which computes exactly the same normalisation; a
// fix_gamma BN gets gamma 1, as MXNet uses. num_batches_tracked keeps the module's value.
// Nothing throws for a name or shape that does not map: every one is listed in the result.
MxnetImport import_mxnet(const nn::Module& module, const ModelSpec& spec,
                         const std::vector<MxnetArray>& arrays,
                         const std::vector<MxnetNameRule>& rules,
                         const std::map<std::string, MxnetBatchNorm>& batch_norms);

}  // namespace crunet::models
