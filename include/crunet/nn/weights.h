#pragma once
// Weights of a module as a safetensors file: every parameter and buffer under its state-dict name
// (docs/formats.md), so that PyTorch reads them with the `safetensors` package and back.
#include <map>
#include <string>
#include <vector>

#include "crunet/nn/module.h"

namespace crunet {

// Writes module.state_dict() (atomically: temporary file, flush, rename).
void save_weights(const nn::Module& module, const std::string& path,
                  const std::map<std::string, std::string>& metadata = {});

// Loads into the module; every name, shape and dtype must match. All mismatches are reported
// together, each by name, in a UserError naming the file. Tensors whose name starts with one of
// `keep_prefixes` keep the module's own values and are left out of the file's too (fine-tuning:
// "fc." keeps a freshly initialised classifier for another number of classes).
void load_weights(nn::Module& module, const std::string& path,
                  const std::vector<std::string>& keep_prefixes = {});
// The same for tensors already read (a checkpoint's "model." tensors); `source` names them in
// messages. A keep prefix that matches no tensor of the module is a UserError too: a typo
// ("fc" for "classifier.") would otherwise load every tensor and keep nothing.
void load_weights(nn::Module& module, const std::vector<nn::NamedTensor>& tensors,
                  const std::string& source, const std::vector<std::string>& keep_prefixes = {});

}  // namespace crunet
