#pragma once
// cuBLAS, opened on first use instead of linked. libcublas brings libcublasLt, which costs about
// 150 MiB of resident memory once the loader has relocated it: every process of a CUDA build
// paid that, even a CPU-only training or a `crunet-info`. Only a process that runs a matrix
// product on a GPU opens it now.
#include <cublas_v2.h>

namespace crunet::cuda {

// The cuBLAS entry points crunet calls. The types come from cuBLAS's own declarations, so a
// signature that changes in a new cuBLAS fails to compile instead of failing at run time.
// (cublasCreate, cublasDestroy, cublasSetStream and cublasSgemm_64 are macros for the _v2
// names the library exports.)
struct CublasLibrary {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSgemm_v2_64) sgemm;
  decltype(&cublasGemmEx_64) gemm_ex;
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetStatusString) status_string;
};

// Opens libcublas.so.<major of the headers> (the search path of libcrunet, then the toolkit's
// library folder of the build) and resolves every entry point, once per process; throws an
// Error naming the file and dlerror()'s reason when it cannot.
const CublasLibrary& cublas_library();

// Whether this process has opened cuBLAS (what tests check a CPU-only run for).
bool cublas_library_loaded();

}  // namespace crunet::cuda
