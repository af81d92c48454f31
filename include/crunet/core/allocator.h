#pragma once
#include <cstddef>
#include <cstdint>

#include "crunet/core/device.h"

namespace crunet {

struct MemoryStats {
  std::int64_t current_bytes = 0;  // bytes handed out and not yet returned
  std::int64_t peak_bytes = 0;     // the high-water mark of current_bytes
  std::int64_t reserved_bytes = 0; // bytes held from the system (caching allocators hold more)
  std::int64_t allocations = 0;    // number of allocate() calls
};

// Hands out raw memory for tensor storage on one device. The allocators are the one piece of
// global state the library keeps (with the RNG): one per device, alive for the whole process.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* pointer, std::size_t nbytes) = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
};

// 64-byte aligned host memory (a cache line and an AVX-512 vector).
Allocator& cpu_allocator();
// The caching allocator of a CUDA device; throws NotImplementedError in a build without CUDA.
Allocator& cuda_allocator(int device_index);
Allocator& allocator_for(const Device& device);
// Page-locked host memory (cudaHostAlloc), cached: CPU tensors in it copy to a GPU asynchronously
// (crunet/core/pinned.h). Throws NotImplementedError in a build without CUDA; allocating throws
// RuntimeError on a machine without a usable GPU.
Allocator& pinned_host_allocator();

constexpr std::size_t kCpuAlignment = 64;

}  // namespace crunet
