#pragma once
#include <cstddef>
#include <memory>

#include "crunet/core/device.h"

namespace crunet {

// A block of memory on one device, freed through the allocator that made it.
class Storage {
 public:
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  const Device& device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
};

// Copies nbytes between two pointers on any pair of devices (host<->device, device<->device).
void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                std::size_t nbytes);

}  // namespace crunet
