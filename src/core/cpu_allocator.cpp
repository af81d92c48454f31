#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "crunet/core/allocator.h"
#include "crunet/core/error.h"

namespace crunet {
namespace {

// Aligned host memory with current/peak accounting. Not caching itself: glibc recycles freed
// blocks, once told to keep them. By default glibc serves blocks above 128 KiB with fresh mmap()s
// and returns freed memory to the system, so every activation of every training step would pay
// page faults that cost more than a depthwise convolution. Raising the mmap and trim thresholds
// keeps large blocks in the heap for reuse.
class CpuAllocator final : public Allocator {
 public:
  CpuAllocator() {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest glibc accepts on 64-bit systems
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }

  void* allocate(std::size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const std::size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* pointer = std::aligned_alloc(kCpuAlignment, rounded);
    if (pointer == nullptr) {
      throw RuntimeError("cpu allocator: out of memory allocating " + std::to_string(nbytes) +
                         " bytes");
    }
    const std::int64_t now = current_.fetch_add(static_cast<std::int64_t>(nbytes)) +
                             static_cast<std::int64_t>(nbytes);
    std::int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    allocations_.fetch_add(1);
    return pointer;
  }

  void deallocate(void* pointer, std::size_t nbytes) override {
    if (pointer == nullptr) return;
    std::free(pointer);
    current_.fetch_sub(static_cast<std::int64_t>(nbytes));
  }

  MemoryStats stats() const override {
    MemoryStats stats;
    stats.current_bytes = current_.load();
    stats.peak_bytes = peak_.load();
    stats.reserved_bytes = stats.current_bytes;
    stats.allocations = allocations_.load();
    return stats;
  }

  void reset_peak() override { peak_.store(current_.load()); }

 private:
  std::atomic<std::int64_t> current_{0};
  std::atomic<std::int64_t> peak_{0};
  std::atomic<std::int64_t> allocations_{0};
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* allocator = new CpuAllocator();  // never destroyed: tensors may outlive main
  return *allocator;
}

Allocator& allocator_for(const Device& device) {
  if (device.is_cpu()) return cpu_allocator();
  return cuda_allocator(device.index());
}

}  // namespace crunet
