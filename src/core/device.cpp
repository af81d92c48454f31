#include "crunet/core/device.h"

#include <cstdlib>

#include "crunet/core/error.h"

namespace crunet {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string index = text.substr(5);
    char* end = nullptr;
    const long value = std::strtol(index.c_str(), &end, 10);
    if (!index.empty() && end != nullptr && *end == '\0' && value >= 0 && value < 1024) {
      return Device::cuda(static_cast<int>(value));
    }
  }
  throw ValueError("unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  if (type_ == DeviceType::CPU) return "cpu";
  return "cuda:" + std::to_string(index_);
}

std::ostream& operator<<(std::ostream& out, const Device& device) { return out << device.str(); }

bool cuda_is_available() { return cuda_device_count() > 0; }

}  // namespace crunet
