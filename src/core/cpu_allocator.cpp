#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "crunet/core/allocator.h"
#include "crunet/core/error.h"

namespace crunet {
namespace {

// Aligned host memory with current/peak accounting, caching large blocks.
//
// A training step allocates the same large activations every iteration. Left to glibc, blocks
// above its mmap threshold come from fresh mmap()s whose page faults cost more than a depthwise
// convolution; and keeping them in glibc's heap instead fragments it until malloc itself dominates.
// So blocks of kCacheFrom bytes or more are rounded up to whole pages and, when freed, kept in a
// free list per rounded size, to be handed out again for the next request of that size. Small
// blocks go straight to glibc, which recycles them well. The cache is returned to the system when
// an allocation fails, and its size is bounded by kMaxCachedBytes.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const std::size_t rounded = round(nbytes);
    void* pointer = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      record_allocation(nbytes);
      if (rounded >= kCacheFrom) {
        auto it = free_.find(rounded);
        if (it != free_.end() && !it->second.empty()) {
          pointer = it->second.back();
          it->second.pop_back();
          cached_bytes_ -= rounded;
          return pointer;
        }
      }
    }
    pointer = std::aligned_alloc(kCpuAlignment, rounded);
    if (pointer == nullptr) {
      release_cache();
      pointer = std::aligned_alloc(kCpuAlignment, rounded);
    }
    if (pointer == nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ -= static_cast<std::int64_t>(nbytes);
      throw RuntimeError("cpu allocator: out of memory allocating " + std::to_string(nbytes) +
                         " bytes (" + std::to_string(current_) + " bytes in use)");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    reserved_ += static_cast<std::int64_t>(rounded);
    return pointer;
  }

  void deallocate(void* pointer, std::size_t nbytes) override {
    if (pointer == nullptr) return;
    const std::size_t rounded = round(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ -= static_cast<std::int64_t>(nbytes);
      if (rounded >= kCacheFrom && cached_bytes_ + rounded <= kMaxCachedBytes) {
        free_[rounded].push_back(pointer);
        cached_bytes_ += rounded;
        return;
      }
      reserved_ -= static_cast<std::int64_t>(rounded);
    }
    std::free(pointer);
  }

  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    MemoryStats stats;
    stats.current_bytes = current_;
    stats.peak_bytes = peak_;
    stats.reserved_bytes = reserved_;
    stats.allocations = allocations_;
    return stats;
  }

  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = current_;
  }

 private:
  static constexpr std::size_t kCacheFrom = 256 * 1024;
  static constexpr std::size_t kPage = 4096;
  static constexpr std::size_t kMaxCachedBytes = std::size_t{8} << 30;

  static std::size_t round(std::size_t nbytes) {
    const std::size_t unit = nbytes >= kCacheFrom ? kPage : kCpuAlignment;
    return (nbytes + unit - 1) / unit * unit;
  }

  void record_allocation(std::size_t nbytes) {
    current_ += static_cast<std::int64_t>(nbytes);
    if (current_ > peak_) peak_ = current_;
    ++allocations_;
  }

  void release_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_) {
      for (void* block : blocks) std::free(block);
      reserved_ -= static_cast<std::int64_t>(size * blocks.size());
    }
    free_.clear();
    cached_bytes_ = 0;
  }

  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
  std::int64_t current_ = 0;
  std::int64_t peak_ = 0;
  std::int64_t reserved_ = 0;
  std::int64_t allocations_ = 0;
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
