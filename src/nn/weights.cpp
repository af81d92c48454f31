#include "crunet/nn/weights.h"

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
  const SafetensorsFile file = load_safetensors(path);
  const auto kept = [&keep_prefixes](const std::string& name) {
    for (const std::string& prefix : keep_prefixes) {
      if (name.compare(0, prefix.size(), prefix) == 0) return true;
    }
    return false;
  };
  std::vector<nn::NamedTensor> state;
  for (const nn::NamedTensor& entry : file.tensors) {
    if (!kept(entry.first)) state.push_back(entry);
  }
  for (const nn::NamedTensor& entry : module.state_dict()) {
    if (kept(entry.first)) state.emplace_back(entry.first, entry.second.clone());
  }
  try {
    module.load_state_dict(state);
  } catch (const ValueError& e) {
    throw UserError(path + ": weights do not fit the model: " + e.what());
  }
}

}  // namespace crunet
