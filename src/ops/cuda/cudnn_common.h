#pragma once
// What the cuDNN-backed ops share: the calling thread's handle for the current device and small
// owners of cuDNN descriptors (created in the constructor, destroyed in the destructor).
// Only float32 NCHW for now; bfloat16 comes with the precision modes.
#include <cudnn.h>

#include <cstdint>

#include "crunet/core/tensor.h"

namespace crunet::ops::cuda {

// Created on first use for each (thread, device); bound to crunet::cuda::current_stream().
// The caller has made the device current (DeviceGuard).
cudnnHandle_t cudnn_handle();

// cuDNN's legacy API takes int dimensions: throws NotImplementedError naming the op when a
// tensor is too large for it.
void check_cudnn_size(const char* op, const Tensor& t);

class TensorDescriptor {
 public:
  // A float32 NCHW tensor of the given shape (rank 4), or a 1 x C x 1 x 1 per-channel vector.
  explicit TensorDescriptor(const Shape& nchw);
  ~TensorDescriptor();
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return descriptor_; }

 private:
  cudnnTensorDescriptor_t descriptor_ = nullptr;
};

class FilterDescriptor {
 public:
  explicit FilterDescriptor(const Shape& kcrs);  // float32 [Cout, Cin/groups, K, K]
  ~FilterDescriptor();
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  cudnnFilterDescriptor_t get() const { return descriptor_; }

 private:
  cudnnFilterDescriptor_t descriptor_ = nullptr;
};

}  // namespace crunet::ops::cuda
