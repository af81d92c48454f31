#include "crunet/nn/weights.h"

#include <algorithm>
#include <set>

#include "crunet/core/safetensors.h"

namespace crunet {

void save_weights(const nn::Module& module, const std::string& path,
                  const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> header = metadata;
  header.emplace("format", "crunet-weights");
  save_safetensors(path, module.state_dict(), header);
}

void load_weights(nn::Module& module, const std::string& path,
                  const std::vector<std::string>& keep_prefixes) {
  load_weights(module, load_safetensors(path).tensors, path, keep_prefixes);
}

void load_weights(nn::Module& module, const std::vector<nn::NamedTensor>& tensors,
                  const std::string& source, const std::vector<std::string>& keep_prefixes) {
  const std::vector<nn::NamedTensor> own = module.state_dict();
  const auto starts_with = [](const std::string& name, const std::string& prefix) {
    return name.compare(0, prefix.size(), prefix) == 0;
  };
  for (const std::string& prefix : keep_prefixes) {
    const bool matches = std::any_of(own.begin(), own.end(), [&](const nn::NamedTensor& entry) {
      return starts_with(entry.first, prefix);
    });
    if (!matches) {
      std::set<std::string> tops;  // "stem.", "stage1.", ..., "fc.": what a prefix can start with
      for (const auto& [name, tensor] : own) tops.insert(name.substr(0, name.find('.') + 1));
      std::string names;
      for (const std::string& top : tops) names += (names.empty() ? "" : ", ") + top;
      throw UserError(source + ": the keep prefix '" + prefix +
                      "' matches no tensor of the model (its names start with " + names + ")");
    }
  }
  const auto kept = [&](const std::string& name) {
    return std::any_of(keep_prefixes.begin(), keep_prefixes.end(),
                       [&](const std::string& prefix) { return starts_with(name, prefix); });
  };
  std::vector<nn::NamedTensor> state;
  for (const nn::NamedTensor& entry : tensors) {
    if (!kept(entry.first)) state.push_back(entry);
  }
  for (const nn::NamedTensor& entry : own) {
    if (kept(entry.first)) state.emplace_back(entry.first, entry.second.clone());
  }
  try {
    module.load_state_dict(state);
  } catch (const ValueError& e) {
    throw UserError(source + ": weights do not fit the model: " + e.what());
  }
}

}  // namespace crunet
