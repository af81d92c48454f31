#pragma once
// The CUDA runtime services of the core that the library and the GPU tests use beyond the public
// API. Deliberately free of CUDA headers, so that code built without the CUDA include paths (the
// tests) can call it; cuda_context.h has the pieces that need cuda_runtime_api.h.
#include <string>

namespace crunet::cuda {

// Why cuda_device_count() is 0, e.g. "cudaGetDeviceCount: cudaErrorInsufficientDriver, CUDA
// driver version is insufficient for CUDA runtime version"; empty when a GPU is usable.
std::string unavailable_reason();

// Waits until every kernel and copy queued on the device has finished.
void synchronize(int device_index);

// Returns the caching allocator's unused segments to the driver (cudaFree); blocks in use stay.
void empty_cache(int device_index);

}  // namespace crunet::cuda
