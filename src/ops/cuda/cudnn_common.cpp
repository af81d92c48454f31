#include "cudnn_common.h"

#include <climits>
#include <vector>

#include "../op_checks.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"

namespace crunet::ops::cuda {
namespace {

struct ThreadHandles {
  std::vector<cudnnHandle_t> handles;  // by device index
  ~ThreadHandles() {
    for (cudnnHandle_t handle : handles) {
      if (handle) cudnnDestroy(handle);  // errors at process exit are of no use to anyone
    }
  }
};

int as_int(std::int64_t value) { return static_cast<int>(value); }

}  // namespace

cudnnHandle_t cudnn_handle() {
  thread_local ThreadHandles local;
  int device = 0;
  CRUNET_CUDA_CHECK(cudaGetDevice(&device));
  if (local.handles.size() <= static_cast<std::size_t>(device)) {
    local.handles.resize(static_cast<std::size_t>(device) + 1, nullptr);
  }
  cudnnHandle_t& handle = local.handles[static_cast<std::size_t>(device)];
  if (!handle) CRUNET_CUDNN_CHECK(cudnnCreate(&handle));
  CRUNET_CUDNN_CHECK(cudnnSetStream(handle, crunet::cuda::current_stream()));
  return handle;
}

void check_cudnn_size(const char* op, const Tensor& t) {
  if (t.numel() > INT_MAX) {
    throw NotImplementedError(std::string(op) + ": " + t.description() +
                              " has more than 2^31 - 1 elements, which cuDNN's legacy API "
                              "does not take; split the batch");
  }
}

TensorDescriptor::TensorDescriptor(const Shape& nchw) {
  CRUNET_CUDNN_CHECK(cudnnCreateTensorDescriptor(&descriptor_));
  const Shape s = nchw.size() == 1 ? Shape{1, nchw[0], 1, 1} : nchw;
  if (s.size() != 4) fail("cudnn", "tensor descriptor needs a rank-4 shape, got " + shape_str(nchw));
  const cudnnStatus_t status = cudnnSetTensor4dDescriptor(
      descriptor_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, as_int(s[0]), as_int(s[1]), as_int(s[2]),
      as_int(s[3]));
  if (status != CUDNN_STATUS_SUCCESS) {
    cudnnDestroyTensorDescriptor(descriptor_);
    CRUNET_CUDNN_CHECK(status);
  }
}

TensorDescriptor::~TensorDescriptor() { cudnnDestroyTensorDescriptor(descriptor_); }

FilterDescriptor::FilterDescriptor(const Shape& kcrs) {
  CRUNET_CUDNN_CHECK(cudnnCreateFilterDescriptor(&descriptor_));
  const cudnnStatus_t status =
      cudnnSetFilter4dDescriptor(descriptor_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, as_int(kcrs[0]),
                                 as_int(kcrs[1]), as_int(kcrs[2]), as_int(kcrs[3]));
  if (status != CUDNN_STATUS_SUCCESS) {
    cudnnDestroyFilterDescriptor(descriptor_);
    CRUNET_CUDNN_CHECK(status);
  }
}

FilterDescriptor::~FilterDescriptor() { cudnnDestroyFilterDescriptor(descriptor_); }

}  // namespace crunet::ops::cuda
