// The CUDA entry points of the core in a build without CUDA: they say so instead of failing later.
#include "crunet/core/allocator.h"
#include "crunet/core/error.h"
#include "crunet/core/storage.h"

#include <cstring>

namespace crunet {

int cuda_device_count() { return 0; }

Allocator& cuda_allocator(int device_index) {
  throw NotImplementedError("cuda:" + std::to_string(device_index) +
                            " requested, but this build of crunet has no CUDA backend "
                            "(configure with -DCRUNET_CUDA=ON)");
}

Allocator& pinned_host_allocator() {
  throw NotImplementedError(
      "pinned host memory needs the CUDA backend, which this build of crunet does not have "
      "(configure with -DCRUNET_CUDA=ON)");
}

void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                std::size_t nbytes) {
  if (!dst_device.is_cpu() || !src_device.is_cpu()) {
    throw NotImplementedError("copy between " + src_device.str() + " and " + dst_device.str() +
                              ": this build of crunet has no CUDA backend");
  }
  if (nbytes) std::memcpy(dst, src, nbytes);
}

}  // namespace crunet
