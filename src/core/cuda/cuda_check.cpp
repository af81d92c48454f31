#include "cuda_check.h"

#include <cublas_api.h>
#include <cudnn.h>

#include <string>

#include "crunet/core/error.h"
#include "cublas_library.h"

namespace crunet::cuda {
namespace {

[[noreturn]] void raise(const char* library, const char* call, const std::string& code,
                        const char* file, int line) {
  // Only the file's name: the build's absolute paths say nothing to a user.
  std::string where = file;
  const std::size_t slash = where.find_last_of('/');
  if (slash != std::string::npos) where = where.substr(slash + 1);
  throw RuntimeError(std::string(library) + " call " + call + " failed: " + code + " (at " + where +
                     ":" + std::to_string(line) + ")");
}

}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error so that the next call does not see it again
  raise("CUDA", call,
        std::string(cudaGetErrorName(status)) + ", " + cudaGetErrorString(status), file, line);
}

void throw_cublas_error(int status, const char* call, const char* file, int line) {
  const auto code = static_cast<cublasStatus_t>(status);
  const CublasLibrary& cublas = cublas_library();  // open: a call returned this status
  raise("cuBLAS", call, std::string(cublas.status_name(code)) + ", " + cublas.status_string(code),
        file, line);
}

void throw_cudnn_error(int status, const char* call, const char* file, int line) {
  // cudnnGetErrorString returns the code's name (CUDNN_STATUS_BAD_PARAM...); the last error
  // message, where cuDNN kept one, says which argument it disliked.
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof detail);
  std::string code = cudnnGetErrorString(static_cast<cudnnStatus_t>(status));
  if (detail[0] != '\0') code += std::string(", ") + detail;
  raise("cuDNN", call, code, file, line);
}

}  // namespace crunet::cuda
