#include "stream.h"

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "crunet/core/device.h"
#include "crunet/core/error.h"
#include "cuda_check.h"
#include "cuda_context.h"

namespace crunet::cuda {

Stream::Stream(int device_index) : device_(device_index) {
  DeviceGuard guard(device_index);
  CRUNET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);  // returns at once; queued work still completes
}

void Stream::wait(cudaEvent_t event) const {
  CRUNET_CUDA_CHECK(cudaStreamWaitEvent(stream_, event, 0));
}

void Stream::synchronize() const { CRUNET_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Event::~Event() {
  if (event_) cudaEventDestroy(event_);  // legal while pending: released once it completes
}

Event::Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    if (event_) cudaEventDestroy(event_);
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

void Event::record(cudaStream_t stream, int device_index) {
  DeviceGuard guard(device_index);
  if (!event_) CRUNET_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
  CRUNET_CUDA_CHECK(cudaEventRecord(event_, stream));
}

bool Event::query() const { return event_ == nullptr || event_completed(event_); }

void Event::synchronize() const {
  if (event_) CRUNET_CUDA_CHECK(cudaEventSynchronize(event_));
}

cudaEvent_t Event::release() { return std::exchange(event_, nullptr); }

bool event_completed(cudaEvent_t event) {
  const cudaError_t status = cudaEventQuery(event);
  if (status == cudaErrorNotReady) {
    cudaGetLastError();  // as PyTorch does: "not ready" must not linger as the last error
    return false;
  }
  CRUNET_CUDA_CHECK(status);
  return true;
}

Stream& copy_stream(int device_index) {
  static std::mutex mutex;
  // Never destroyed: copies may still be queued when static destructors run.
  static auto* streams = new std::vector<std::unique_ptr<Stream>>();
  std::lock_guard<std::mutex> lock(mutex);
  if (device_index < 0 || device_index >= cuda_device_count()) {
    throw ValueError("copy stream for cuda:" + std::to_string(device_index) + ": this process sees " +
                     std::to_string(cuda_device_count()) + " CUDA device(s)");
  }
  if (streams->size() <= static_cast<std::size_t>(device_index)) {
    streams->resize(static_cast<std::size_t>(device_index) + 1);
  }
  auto& stream = (*streams)[static_cast<std::size_t>(device_index)];
  if (!stream) stream = std::make_unique<Stream>(device_index);
  return *stream;
}

}  // namespace crunet::cuda
