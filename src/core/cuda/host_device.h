#pragma once
// Marks small inline functions that both the CUDA kernels and plain C++ use (the kernels' index
// arithmetic, Philox), so that a CPU unit test checks exactly what the GPU computes.
#ifdef __CUDACC__
#define CRUNET_HOST_DEVICE __host__ __device__
#else
#define CRUNET_HOST_DEVICE
#endif
