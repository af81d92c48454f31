#pragma once
// Per-call CUDA context for the backend: which device a call runs on and which stream it uses.
#include <cuda_runtime_api.h>

#include "crunet/core/device.h"

namespace crunet::cuda {

// Makes a device current for its lifetime and restores the previous one. cudaSetDevice is cheap,
// but skipping it when the device is already current keeps single-GPU calls at one query.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device_index);
  explicit DeviceGuard(const Device& device) : DeviceGuard(device.index()) {}
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The stream every op of the backend queues its work on. For now the legacy default stream of
// the current device: all kernels, library calls and copies are ordered on it, which is what
// makes the caching allocator's immediate reuse of a freed block safe. Streams per thread come
// with the data loader's overlapped copies; the allocator will then record each block's stream.
inline cudaStream_t current_stream() { return nullptr; }

}  // namespace crunet::cuda

#include <cstddef>

#include "crunet/core/allocator.h"

namespace crunet::cuda {

// Scratch device memory (library workspaces) from the device's caching allocator, returned to
// it when the buffer goes out of scope. Not copyable, like ggml's pool handle.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(int device_index, std::size_t nbytes)
      : device_(device_index), nbytes_(nbytes),
        pointer_(nbytes ? cuda_allocator(device_index).allocate(nbytes) : nullptr) {}
  ~DeviceBuffer() {
    if (pointer_) cuda_allocator(device_).deallocate(pointer_, nbytes_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return pointer_; }
  std::size_t size() const { return nbytes_; }

 private:
  int device_ = 0;
  std::size_t nbytes_ = 0;
  void* pointer_ = nullptr;
};

}  // namespace crunet::cuda
