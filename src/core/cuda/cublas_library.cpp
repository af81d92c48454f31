#include "cublas_library.h"

#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <string>

#include "crunet/core/error.h"

namespace crunet::cuda {
namespace {

std::atomic<bool> loaded{false};

void* open_cublas() {
  const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
  const std::string first_reason = dlerror();
  const std::string in_toolkit = std::string(CRUNET_CUDA_LIBRARY_DIR) + "/" + name;
  if (void* handle = dlopen(in_toolkit.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
  throw Error("cannot open cuBLAS (" + name + "): " + first_reason + "; nor " + in_toolkit +
              ": " + dlerror() + " (LD_LIBRARY_PATH should name the CUDA toolkit's lib folder)");
}

template <typename Function>
void resolve(void* library, const char* symbol, Function& function) {
  function = reinterpret_cast<Function>(dlsym(library, symbol));
  if (function == nullptr) {
    throw Error(std::string("cuBLAS has no ") + symbol + " (a cuBLAS older than the headers " +
                "crunet was built with, " + std::to_string(CUBLAS_VER_MAJOR) + "." +
                std::to_string(CUBLAS_VER_MINOR) + "?)");
  }
}

CublasLibrary load() {
  void* library = open_cublas();  // kept open until the process ends
  CublasLibrary api{};
  resolve(library, "cublasCreate_v2", api.create);
  resolve(library, "cublasDestroy_v2", api.destroy);
  resolve(library, "cublasSetMathMode", api.set_math_mode);
  resolve(library, "cublasSetStream_v2", api.set_stream);
  resolve(library, "cublasSgemm_v2_64", api.sgemm);
  resolve(library, "cublasGemmEx_64", api.gemm_ex);
  resolve(library, "cublasGetStatusName", api.status_name);
  resolve(library, "cublasGetStatusString", api.status_string);
  loaded = true;
  return api;
}

}  // namespace

const CublasLibrary& cublas_library() {
  // A failed load throws out of the initialiser, and the next call tries again.
  static const CublasLibrary api = load();
  return api;
}

bool cublas_library_loaded() { return loaded; }

}  // namespace crunet::cuda
