#include "fixtures.h"

namespace crunet::testing {

std::string fixture_path(const std::string& name) {
  return std::string(CRUNET_FIXTURE_DIR) + "/" + name + ".safetensors";
}

}  // namespace crunet::testing
