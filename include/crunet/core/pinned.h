#pragma once
// Pinned (page-locked) host tensors: CPU tensors whose memory the GPU reads by DMA. to(cuda) from
// one is asynchronous to the host (cudaMemcpyAsync on the device's copy stream, ordered against
// the ops by events), where a copy from ordinary memory blocks until the bytes have arrived. The
// data loader assembles its batches in pinned memory when training runs on a GPU.
//
// The one rule that comes with asynchrony: do not write into a pinned tensor while a copy from it
// may still be running (crunet::cuda::synchronize, or any copy back to the host, waits for it).
// Freeing it is always safe: its memory is reused only after the copies that read it.
#include "crunet/core/tensor.h"

namespace crunet {

// An uninitialised contiguous CPU tensor in pinned memory (pinned_host_allocator()). Throws
// NotImplementedError in a build without CUDA and RuntimeError on a machine without a usable GPU.
Tensor empty_pinned(const Shape& shape, DType dtype = DType::Float32);
// A pinned copy of a CPU tensor (contiguous, not differentiable), as torch.Tensor.pin_memory().
Tensor pin_memory(const Tensor& tensor);
// Whether a tensor's memory is pinned host memory. Never throws.
bool is_pinned(const Tensor& tensor);

}  // namespace crunet
