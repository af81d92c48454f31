#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace crunet {

enum class DeviceType : std::uint8_t { CPU, CUDA };

class Device {
 public:
  Device() = default;
  Device(DeviceType type, int index) : type_(type), index_(index) {}

  static Device cpu() { return Device(DeviceType::CPU, 0); }
  static Device cuda(int index = 0) { return Device(DeviceType::CUDA, index); }
  // Parses "cpu", "cuda", "cuda:1"; throws ValueError for anything else.
  static Device parse(const std::string& text);

  DeviceType type() const { return type_; }
  int index() const { return index_; }
  bool is_cpu() const { return type_ == DeviceType::CPU; }
  bool is_cuda() const { return type_ == DeviceType::CUDA; }
  std::string str() const;

  bool operator==(const Device& other) const {
    return type_ == other.type_ && index_ == other.index_;
  }
  bool operator!=(const Device& other) const { return !(*this == other); }

 private:
  DeviceType type_ = DeviceType::CPU;
  int index_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Device& device);

// True when this build has the CUDA backend and the process sees at least one GPU.
bool cuda_is_available();
int cuda_device_count();

}  // namespace crunet
