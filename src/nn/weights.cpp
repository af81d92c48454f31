#include "crunet/nn/weights.h"

#include "crunet/core/safetensors.h"

namespace crunet {

void save_weights(const nn::Module& module, const std::string& path,
                  const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> header = metadata;
  header.emplace("format", "crunet-weights");
  save_safetensors(path, module.state_dict(), header);
}

void load_weights(nn::Module& module, const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  try {
    module.load_state_dict(file.tensors);
  } catch (const ValueError& e) {
    throw UserError(path + ": weights do not fit the model: " + e.what());
  }
}

}  // namespace crunet
