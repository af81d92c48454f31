#pragma once
#include <cstddef>
#include <memory>

#include "crunet/core/device.h"

namespace crunet {

class Allocator;

// A block of memory on one device, freed through the allocator that made it.
class Storage {
 public:
  // From the device's own allocator (allocator_for(device)).
  Storage(std::size_t nbytes, Device device);
  // From a given allocator for that device, e.g. pinned_host_allocator() for CPU memory.
  Storage(std::size_t nbytes, Device device, Allocator& allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  const Device& device() const { return device_; }
  Allocator& allocator() const { return *allocator_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

// Copies nbytes between two pointers on any pair of devices (host<->device, device<->device).
void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                std::size_t nbytes);

}  // namespace crunet
