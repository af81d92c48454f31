// CPU emulation of the CUDA execution model for checking kernel source on a machine without a GPU.
#pragma once
#include <cuda_runtime_api.h>
#include <atomic>
#include <barrier>
#include <cstring>
#include <deque>
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
using std::isnan;
// Warp shuffles meet at a barrier of the warp's own 32 threads (fewer in a last partial warp), so
// a warp may shuffle while others of its block have left the loop, as on the device.
inline std::deque<std::barrier<>>* warp_barriers = nullptr;
inline float shfl_slots[1024];
inline unsigned linear_thread() { return threadIdx.y * blockDim.x + threadIdx.x; }
inline unsigned warp_width(unsigned t) {
  const unsigned n = blockDim.x * blockDim.y, first = t & ~31u;
  return n - first < 32 ? n - first : 32;
}
inline float __shfl_down_sync(unsigned, float v, int offset) {
  const unsigned t = linear_thread();
  auto& bar = (*warp_barriers)[t / 32];
  shfl_slots[t] = v;
  bar.arrive_and_wait();
  const unsigned lane = t % 32;
  const float r = lane + offset < warp_width(t) ? shfl_slots[t + offset] : v;
  bar.arrive_and_wait();
  return r;
}
inline float __shfl_xor_sync(unsigned, float v, int mask) {
  const unsigned t = linear_thread();
  auto& bar = (*warp_barriers)[t / 32];
  shfl_slots[t] = v;
  bar.arrive_and_wait();
  const unsigned src = (t & ~31u) | ((t % 32) ^ mask);
  const float r = src < (t & ~31u) + warp_width(t) ? shfl_slots[src] : v;
  bar.arrive_and_wait();
  return r;
}
template <typename T>
T atomicMin(T* address, T value) {
  std::atomic_ref<T> a(*address);
  T old = a.load();
  while (value < old && !a.compare_exchange_weak(old, value)) {}
  return old;
}
inline float atomicAdd(float* address, float value) {
  std::atomic_ref<float> a(*address);
  return a.fetch_add(value);
}
inline long long emulated_blocks = 0;
template <typename F>
void emulate_launch(dim3 grid, dim3 block, F body) {
  gridDim = grid; blockDim = block;
  for (unsigned b = 0; b < grid.x; ++b) {
    const unsigned n = block.x * block.y;
    std::barrier<> bar(n);
    block_barrier = &bar;
    std::deque<std::barrier<>> warps;
    for (unsigned w = 0; w * 32 < n; ++w) warps.emplace_back(n - w * 32 < 32 ? n - w * 32 : 32);
    warp_barriers = &warps;
    std::vector<std::thread> threads;
    for (unsigned ty = 0; ty < block.y; ++ty)
      for (unsigned tx = 0; tx < block.x; ++tx)
        threads.emplace_back([&, tx, ty, b] {
          threadIdx = uint3{tx, ty, 0};
          blockIdx = uint3{b, 0, 0};
          body();
          // A thread that has finished no longer holds back its block's or warp's barriers.
          const unsigned t = ty * block.x + tx;
          (*warp_barriers)[t / 32].arrive_and_drop();
          block_barrier->arrive_and_drop();
        });
    for (auto& t : threads) t.join();
    ++emulated_blocks;
  }
}
