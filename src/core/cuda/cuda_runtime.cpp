// The core's CUDA entry points in a build with CUDA: device discovery, the device guard and
// copies between any pair of devices. The caching allocator is in cuda_allocator.cpp, the pinned
// host allocator in pinned_allocator.cpp, streams and events in stream.cpp.
#include "cuda_runtime.h"

#include <cstring>
#include <mutex>
#include <string>

#include "crunet/core/error.h"
#include "crunet/core/storage.h"
#include "cuda_check.h"
#include "cuda_context.h"
#include "pinned.h"
#include "stream.h"

namespace crunet {
namespace {

struct DeviceDiscovery {
  int count = 0;
  std::string reason;  // why count is 0
};

// Asked once per process: the answer cannot change (CUDA_VISIBLE_DEVICES is read at start-up).
const DeviceDiscovery& discovery() {
  static DeviceDiscovery result;
  static std::once_flag once;
  std::call_once(once, [] {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      // No driver, a driver older than the runtime, or no device: the machine has no usable GPU,
      // which is a normal state of affairs (our build machines), not an error.
      cudaGetLastError();
      result.count = 0;
      result.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(status) + ", " +
                      cudaGetErrorString(status);
    } else if (count == 0) {
      result.reason = "cudaGetDeviceCount: 0 devices";
    } else {
      result.count = count;
    }
  });
  return result;
}

}  // namespace

int cuda_device_count() {
  try {
    return discovery().count;
  } catch (...) {  // std::call_once may throw std::system_error; never let discovery throw
    return 0;
  }
}

namespace cuda {

std::string unavailable_reason() { return discovery().reason; }

void synchronize(int device_index) {
  DeviceGuard guard(device_index);
  CRUNET_CUDA_CHECK(cudaDeviceSynchronize());
}

DeviceGuard::DeviceGuard(int device_index) {
  int current = 0;
  CRUNET_CUDA_CHECK(cudaGetDevice(&current));
  if (current != device_index) {
    CRUNET_CUDA_CHECK(cudaSetDevice(device_index));
    previous_ = current;
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);  // a destructor must not throw
}

namespace {

// A host-to-device copy from pinned memory, asynchronous to the host: cudaMemcpyAsync on the
// device's copy stream. Two events order it against the compute stream (current_stream()): the
// copy waits for the work queued there so far, because the destination may be a block that the
// caching allocator has just handed out again while queued kernels still use it (the allocator
// does not record streams); and everything queued there afterwards waits for the copy. The second
// event also goes to the pinned allocator, which hands the source block out again only once it
// has completed. So the copy overlaps with the host's work (preparing the next batch, queueing
// the forward pass), not yet with kernels queued before it.
void copy_from_pinned(void* dst, int device_index, const void* src, std::size_t nbytes) {
  DeviceGuard guard(device_index);
  const Stream& copy = copy_stream(device_index);
  cudaStream_t compute = current_stream();
  Event compute_ready;
  compute_ready.record(compute, device_index);
  copy.wait(compute_ready.get());
  CRUNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, copy.get()));
  Event copied;
  copied.record(copy.get(), device_index);
  CRUNET_CUDA_CHECK(cudaStreamWaitEvent(compute, copied.get(), 0));
  record_pinned_use(src, copied.release());
}

}  // namespace

}  // namespace cuda

void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                std::size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  // Every copy but those from pinned memory goes through the legacy default stream, so it is
  // ordered after the kernels that wrote its source. A copy into host memory returns once the
  // bytes have arrived.
  if (src_device.is_cpu() && cuda::is_pinned_host(src)) {
    cuda::copy_from_pinned(dst, dst_device.index(), src, nbytes);
  } else if (src_device.is_cpu()) {
    cuda::DeviceGuard guard(dst_device);
    CRUNET_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
  } else if (dst_device.is_cpu()) {
    cuda::DeviceGuard guard(src_device);
    CRUNET_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
  } else if (src_device == dst_device) {
    cuda::DeviceGuard guard(src_device);
    CRUNET_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, cuda::current_stream()));
  } else {
    CRUNET_CUDA_CHECK(cudaMemcpyPeer(dst, dst_device.index(), src, src_device.index(), nbytes));
  }
}

}  // namespace crunet
