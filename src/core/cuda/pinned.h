#pragma once
// The pinned host allocator's hooks for the copy path (cuda_runtime.cpp): whether a host pointer
// lies in a pinned block, and the events that must complete before a freed block is reused.
#include <cuda_runtime_api.h>

namespace crunet::cuda {

// True when `pointer` lies inside a live block of pinned_host_allocator().
bool is_pinned_host(const void* pointer);

// Hands `event` (recorded after an asynchronous copy that reads `pointer`) to the pinned block
// that holds `pointer`: once the block is freed, it is handed out again only after the event has
// completed. Takes ownership of the event (destroyed here if `pointer` is not pinned).
void record_pinned_use(const void* pointer, cudaEvent_t event);

}  // namespace crunet::cuda
