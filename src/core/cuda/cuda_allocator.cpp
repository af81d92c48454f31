// The caching device allocator: cudaMalloc and cudaFree synchronise the device and cost tens of
// microseconds, far more than a training step's small kernels, so freed blocks are kept and
// handed out again, as PyTorch's CUDACachingAllocator does.
//
// Sizes are rounded up to 512 bytes. Requests up to 1 MiB are served from 2 MiB segments, larger
// ones from segments of their own size rounded to 2 MiB. A request takes the smallest free block
// of its pool that fits (best fit, ordered by size then address); the rest of that block is split
// off as a new free block when it is worth keeping (512 bytes in the small pool, over 1 MiB in the
// large one). A freed block merges with free neighbours of its segment. When cudaMalloc fails, the
// wholly free segments are released and the call is tried once more.
//
// All work is queued on one stream per device (cuda_context.h), so a block freed by the host can
// be reused at once: anything that reads it later is queued after everything that used it before.
#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "crunet/core/allocator.h"
#include "crunet/core/error.h"
#include "cuda_check.h"
#include "cuda_context.h"
#include "cuda_runtime.h"

namespace crunet {
namespace {

constexpr std::size_t kRound = 512;
constexpr std::size_t kSmallRequest = std::size_t{1} << 20;  // 1 MiB
constexpr std::size_t kSmallSegment = std::size_t{2} << 20;  // 2 MiB
constexpr std::size_t kLargeRound = std::size_t{2} << 20;

std::size_t round_up(std::size_t value, std::size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

std::string mib(std::int64_t bytes) {
  return std::to_string(bytes / (1 << 20)) + "." +
         std::to_string((bytes % (1 << 20)) * 10 / (1 << 20)) + " MiB";
}

struct Block {
  char* pointer = nullptr;
  std::size_t size = 0;
  bool small = false;      // which pool
  bool allocated = false;
  Block* prev = nullptr;   // neighbours in the same cudaMalloc segment
  Block* next = nullptr;
};

struct BySizeThenAddress {
  bool operator()(const Block* a, const Block* b) const {
    return a->size != b->size ? a->size < b->size : a->pointer < b->pointer;
  }
};
using FreeBlocks = std::set<Block*, BySizeThenAddress>;

class CudaCachingAllocator final : public Allocator {
 public:
  explicit CudaCachingAllocator(int device) : device_(device) {}

  void* allocate(std::size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const std::size_t size = round_up(nbytes, kRound);
    const bool small = size <= kSmallRequest;
    std::lock_guard<std::mutex> lock(mutex_);
    FreeBlocks& pool = small ? small_free_ : large_free_;
    Block key;
    key.size = size;
    Block* block = nullptr;
    if (auto it = pool.lower_bound(&key); it != pool.end()) {
      block = *it;
      pool.erase(it);
    } else {
      block = new_segment(small ? kSmallSegment : round_up(size, kLargeRound), small, nbytes);
    }
    const std::size_t rest = block->size - size;
    if (small ? rest >= kRound : rest > kSmallRequest) {
      auto* tail = new Block{block->pointer + size, rest, small, false, block, block->next};
      if (block->next) block->next->prev = tail;
      block->next = tail;
      block->size = size;
      pool.insert(tail);
    }
    block->allocated = true;
    active_.emplace(block->pointer, block);
    stats_.current_bytes += static_cast<std::int64_t>(block->size);
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.current_bytes);
    ++stats_.allocations;
    return block->pointer;
  }

  void deallocate(void* pointer, std::size_t nbytes) override {
    if (pointer == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = active_.find(pointer);
    if (it == active_.end()) return;  // not ours: nothing sensible to do in a destructor path
    Block* block = it->second;
    active_.erase(it);
    block->allocated = false;
    stats_.current_bytes -= static_cast<std::int64_t>(block->size);
    FreeBlocks& pool = block->small ? small_free_ : large_free_;
    if (Block* prev = block->prev; prev && !prev->allocated) {
      pool.erase(prev);
      prev->size += block->size;
      prev->next = block->next;
      if (block->next) block->next->prev = prev;
      delete block;
      block = prev;
    }
    if (Block* next = block->next; next && !next->allocated) {
      pool.erase(next);
      block->size += next->size;
      block->next = next->next;
      if (next->next) next->next->prev = block;
      delete next;
    }
    pool.insert(block);
  }

  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes = stats_.current_bytes;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_free_segments();
  }

 private:
  // A new cudaMalloc segment as one free block (not in any pool yet). Called with the lock held.
  Block* new_segment(std::size_t segment, bool small, std::size_t requested) {
    cuda::DeviceGuard guard(device_);
    void* pointer = nullptr;
    cudaError_t status = cudaMalloc(&pointer, segment);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_free_segments();
      status = cudaMalloc(&pointer, segment);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      cudaGetLastError();
      throw RuntimeError(
          "cuda:" + std::to_string(device_) + ": out of memory allocating " +
          std::to_string(requested) + " bytes (a " + mib(static_cast<std::int64_t>(segment)) +
          " segment); in use " + mib(stats_.current_bytes) + ", peak " + mib(stats_.peak_bytes) +
          ", reserved by crunet " + mib(stats_.reserved_bytes) + ", free on the device " +
          mib(static_cast<std::int64_t>(free_bytes)) + " of " +
          mib(static_cast<std::int64_t>(total_bytes)));
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw RuntimeError("cuda:" + std::to_string(device_) + ": cudaMalloc of a " +
                         mib(static_cast<std::int64_t>(segment)) + " segment for " +
                         std::to_string(requested) + " bytes failed: " + cudaGetErrorName(status) +
                         ", " + cudaGetErrorString(status));
    }
    stats_.reserved_bytes += static_cast<std::int64_t>(segment);
    return new Block{static_cast<char*>(pointer), segment, small, false, nullptr, nullptr};
  }

  // cudaFree every segment that is one free block. Called with the lock held.
  void release_free_segments() {
    cuda::DeviceGuard guard(device_);
    for (FreeBlocks* pool : {&small_free_, &large_free_}) {
      for (auto it = pool->begin(); it != pool->end();) {
        Block* block = *it;
        if (block->prev == nullptr && block->next == nullptr) {
          CRUNET_CUDA_CHECK(cudaFree(block->pointer));
          stats_.reserved_bytes -= static_cast<std::int64_t>(block->size);
          delete block;
          it = pool->erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  const int device_;
  mutable std::mutex mutex_;
  FreeBlocks small_free_;
  FreeBlocks large_free_;
  std::unordered_map<void*, Block*> active_;
  MemoryStats stats_;
};

CudaCachingAllocator& caching_allocator(int device_index) {
  const int count = cuda_device_count();
  if (count == 0) {
    throw RuntimeError("cuda:" + std::to_string(device_index) +
                       " requested, but this machine has no usable CUDA GPU (" +
                       cuda::unavailable_reason() + ")");
  }
  if (device_index < 0 || device_index >= count) {
    throw ValueError("cuda:" + std::to_string(device_index) + " requested, but this process sees " +
                     std::to_string(count) + " CUDA device(s)");
  }
  // One allocator per device, made on first use and never destroyed: tensors may outlive main.
  static std::vector<CudaCachingAllocator*>* allocators = [count] {
    auto* list = new std::vector<CudaCachingAllocator*>();
    for (int i = 0; i < count; ++i) list->push_back(new CudaCachingAllocator(i));
    return list;
  }();
  return *(*allocators)[static_cast<std::size_t>(device_index)];
}

}  // namespace

Allocator& cuda_allocator(int device_index) { return caching_allocator(device_index); }

void cuda::empty_cache(int device_index) { caching_allocator(device_index).empty_cache(); }

}  // namespace crunet
