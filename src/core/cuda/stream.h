#pragma once
// CUDA streams and events as small RAII owners. The ops queue their work on current_stream()
// (cuda_context.h: the legacy default stream, which the caching allocator's immediate reuse of
// freed blocks relies on); these serve work beside it: host-to-device copies from pinned memory
// on each device's copy stream, ordered against the compute stream by events both ways.
#include <cuda_runtime_api.h>

namespace crunet::cuda {

// A stream of its own on one device, created non-blocking: it does not synchronise implicitly with
// the legacy default stream, so ordering against the ops' work is explicit (events).
class Stream {
 public:
  explicit Stream(int device_index);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }
  // Work queued on this stream from now on waits until `event` has completed.
  void wait(cudaEvent_t event) const;
  // Blocks the host until everything queued so far has run.
  void synchronize() const;

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
};

// An event without timing (the cheap kind), created on first record on the recording stream's
// device. Marks a point in a stream that other streams or the host can wait for.
class Event {
 public:
  Event() = default;
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Records the point after everything queued so far on `stream` (of device `device_index`).
  void record(cudaStream_t stream, int device_index);
  // True when the recorded work has completed (or nothing was recorded).
  bool query() const;
  void synchronize() const;
  bool recorded() const { return event_ != nullptr; }
  cudaEvent_t get() const { return event_; }
  // Hands the cudaEvent_t to the caller, who must cudaEventDestroy it.
  cudaEvent_t release();

 private:
  cudaEvent_t event_ = nullptr;
};

// True when `event` has completed. A pending event is not an error: CUDA's "not ready" status is
// consumed here so that it cannot surface later as the thread's last error.
bool event_completed(cudaEvent_t event);

// The stream each device's host-to-device copies from pinned memory run on (one per device, made
// on first use, never destroyed).
Stream& copy_stream(int device_index);

}  // namespace crunet::cuda
