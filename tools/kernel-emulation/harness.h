// CPU emulation of the CUDA execution model for checking kernel source on a machine without a GPU.
#pragma once
#include <cuda_runtime_api.h>
#include <barrier>
#include <cstring>
#include <thread>
#include <vector>
#include <cstdint>
#include <cmath>
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#undef __launch_bounds__
#undef __align__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n)
#define __restrict__
inline thread_local uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* block_barrier = nullptr;
inline void __syncthreads() { block_barrier->arrive_and_wait(); }
inline float __uint_as_float(std::uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
inline std::uint32_t __float_as_uint(float f) { std::uint32_t b; std::memcpy(&b, &f, 4); return b; }
inline float shfl_slots[1024];
inline float __shfl_down_sync(unsigned, float v, int offset) {
  const unsigned t = threadIdx.y * blockDim.x + threadIdx.x;
  shfl_slots[t] = v;
  block_barrier->arrive_and_wait();
  const unsigned lane = t % 32;
  const float r = lane + offset < 32 ? shfl_slots[t + offset] : v;
  block_barrier->arrive_and_wait();
  return r;
}
inline float __shfl_xor_sync(unsigned, float v, int mask) {
  const unsigned t = threadIdx.y * blockDim.x + threadIdx.x;
  shfl_slots[t] = v;
  block_barrier->arrive_and_wait();
  const float r = shfl_slots[(t & ~31u) | ((t % 32) ^ mask)];
  block_barrier->arrive_and_wait();
  return r;
}
inline long long emulated_blocks = 0;
template <typename F>
void emulate_launch(dim3 grid, dim3 block, F body) {
  gridDim = grid; blockDim = block;
  for (unsigned b = 0; b < grid.x; ++b) {
    std::barrier<> bar(block.x * block.y);
    block_barrier = &bar;
    std::vector<std::thread> threads;
    for (unsigned ty = 0; ty < block.y; ++ty)
      for (unsigned tx = 0; tx < block.x; ++tx)
        threads.emplace_back([&, tx, ty, b] {
          threadIdx = uint3{tx, ty, 0};
          blockIdx = uint3{b, 0, 0};
          body();
        });
    for (auto& t : threads) t.join();
    ++emulated_blocks;
  }
}
