// Pinned (page-locked) host memory, for the host-to-device copies of training batches: the GPU
// reads it directly by DMA, so a copy from it can run asynchronously (cudaMemcpyAsync on the copy
// stream) while a copy from pageable memory is staged through a driver buffer and blocks the host.
//
// cudaHostAlloc and cudaFreeHost are slow (they map pages and synchronise), so blocks are cached
// like the CPU allocator's: sizes rounded up to 4 KiB, a freed block kept in a free list for its
// size and handed out again to the next request of that size; all cached blocks are released when
// cudaHostAlloc fails. A block freed while an asynchronous copy may still be reading it (an event
// recorded by the copy path, record_pinned_use) is reused only once those events have completed.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "crunet/core/allocator.h"
#include "crunet/core/error.h"
#include "cuda_check.h"
#include "cuda_runtime.h"
#include "pinned.h"
#include "stream.h"

namespace crunet {
namespace {

constexpr std::size_t kPage = 4096;

std::size_t round_to_page(std::size_t nbytes) { return (nbytes + kPage - 1) / kPage * kPage; }

class PinnedHostAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const std::size_t size = round_to_page(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    collect_completed();
    char* pointer = nullptr;
    if (auto it = free_.find(size); it != free_.end()) {
      pointer = it->second;
      free_.erase(it);
    } else {
      pointer = host_alloc(size);
      blocks_.emplace(pointer, Block{size, false, {}});
      stats_.reserved_bytes += static_cast<std::int64_t>(size);
    }
    blocks_.at(pointer).in_use = true;
    stats_.current_bytes += static_cast<std::int64_t>(size);
    if (stats_.current_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.current_bytes;
    ++stats_.allocations;
    return pointer;
  }

  void deallocate(void* pointer, std::size_t nbytes) override {
    if (pointer == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.find(static_cast<char*>(pointer));
    if (it == blocks_.end() || !it->second.in_use) return;  // not ours: nothing sensible to do
    Block& block = it->second;
    block.in_use = false;
    stats_.current_bytes -= static_cast<std::int64_t>(block.size);
    drop_completed_events(block);
    if (block.pending.empty()) {
      free_.emplace(block.size, it->first);
    } else {
      draining_.push_back(it->first);
    }
  }

  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes = stats_.current_bytes;
  }

  bool contains(const void* pointer) {
    std::lock_guard<std::mutex> lock(mutex_);
    return block_holding(pointer) != blocks_.end();
  }

  void record_use(const void* pointer, cudaEvent_t event) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = block_holding(pointer);
    if (it == blocks_.end()) {
      cudaEventDestroy(event);
      return;
    }
    drop_completed_events(it->second);  // a block copied from every step keeps a short list
    it->second.pending.push_back(event);
  }

 private:
  struct Block {
    std::size_t size = 0;
    bool in_use = false;
    std::vector<cudaEvent_t> pending;  // copies that may still read the block
  };
  using Blocks = std::map<char*, Block>;

  // The live block whose range holds `pointer`, or end(). Called with the lock held.
  Blocks::iterator block_holding(const void* pointer) {
    const char* p = static_cast<const char*>(pointer);
    auto it = blocks_.upper_bound(const_cast<char*>(p));
    if (it == blocks_.begin()) return blocks_.end();
    --it;
    if (!it->second.in_use || p >= it->first + it->second.size) return blocks_.end();
    return it;
  }

  static void drop_completed_events(Block& block) {
    std::vector<cudaEvent_t> still_pending;
    for (cudaEvent_t event : block.pending) {
      if (cuda::event_completed(event)) {
        cudaEventDestroy(event);
      } else {
        still_pending.push_back(event);
      }
    }
    block.pending.swap(still_pending);
  }

  // Freed blocks whose copies have all completed join the free lists. Called with the lock held.
  void collect_completed() {
    std::vector<char*> still_draining;
    for (char* pointer : draining_) {
      Block& block = blocks_.at(pointer);
      drop_completed_events(block);
      if (block.pending.empty()) {
        free_.emplace(block.size, pointer);
      } else {
        still_draining.push_back(pointer);
      }
    }
    draining_.swap(still_draining);
  }

  // cudaHostAlloc, releasing the cached blocks and trying once more when it fails.
  char* host_alloc(std::size_t size) {
    if (cuda_device_count() == 0) {
      throw RuntimeError("pinned host memory needs a usable CUDA GPU (" +
                         cuda::unavailable_reason() + ")");
    }
    void* pointer = nullptr;
    cudaError_t status = cudaHostAlloc(&pointer, size, cudaHostAllocPortable);
    if (status != cudaSuccess) {
      cudaGetLastError();
      release_free_blocks();
      status = cudaHostAlloc(&pointer, size, cudaHostAllocPortable);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw RuntimeError("pinned host memory: cudaHostAlloc of " + std::to_string(size) +
                         " bytes failed: " + cudaGetErrorName(status) + ", " +
                         cudaGetErrorString(status) + " (" +
                         std::to_string(stats_.current_bytes) + " pinned bytes in use)");
    }
    return static_cast<char*>(pointer);
  }

  void release_free_blocks() {
    for (const auto& [size, pointer] : free_) {
      cudaFreeHost(pointer);
      blocks_.erase(pointer);
      stats_.reserved_bytes -= static_cast<std::int64_t>(size);
    }
    free_.clear();
  }

  mutable std::mutex mutex_;
  Blocks blocks_;                              // every block held from the driver, by address
  std::multimap<std::size_t, char*> free_;     // free blocks without pending copies, by size
  std::vector<char*> draining_;                // freed blocks still read by a pending copy
  MemoryStats stats_;
};

PinnedHostAllocator& pinned_allocator() {
  static auto* allocator = new PinnedHostAllocator();  // never destroyed: tensors may outlive main
  return *allocator;
}

}  // namespace

Allocator& pinned_host_allocator() { return pinned_allocator(); }

namespace cuda {

bool is_pinned_host(const void* pointer) { return pinned_allocator().contains(pointer); }

void record_pinned_use(const void* pointer, cudaEvent_t event) {
  pinned_allocator().record_use(pointer, event);
}

}  // namespace cuda
}  // namespace crunet
