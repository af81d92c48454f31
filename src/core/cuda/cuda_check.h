#pragma once
// One checker per CUDA library (STYLE.md habit 8): a failed call becomes a crunet::RuntimeError
// that names the call, the status code's name and text, and where it was made. The cuBLAS and
// cuDNN checkers take their status as an int so that this header needs neither library's header.
#include <cuda_runtime_api.h>

namespace crunet::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(int status, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn_error(int status, const char* call, const char* file, int line);

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, call, file, line);
}
inline void check_cublas(int status, const char* call, const char* file, int line) {
  if (status != 0) throw_cublas_error(status, call, file, line);  // 0 is CUBLAS_STATUS_SUCCESS
}
inline void check_cudnn(int status, const char* call, const char* file, int line) {
  if (status != 0) throw_cudnn_error(status, call, file, line);  // 0 is CUDNN_STATUS_SUCCESS
}

}  // namespace crunet::cuda

#define CRUNET_CUDA_CHECK(call) ::crunet::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define CRUNET_CUBLAS_CHECK(call) \
  ::crunet::cuda::check_cublas(static_cast<int>(call), #call, __FILE__, __LINE__)
#define CRUNET_CUDNN_CHECK(call) \
  ::crunet::cuda::check_cudnn(static_cast<int>(call), #call, __FILE__, __LINE__)
// After a kernel launch: reports a bad launch configuration at once, naming the kernel.
#define CRUNET_CUDA_CHECK_LAUNCH(kernel) \
  ::crunet::cuda::check_cuda(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)
