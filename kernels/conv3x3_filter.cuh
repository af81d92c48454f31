#pragma once
// Backward-filter of the small-group 3x3 convolutions (conv2d.cuh), shared by the depthwise and
// the grouped kernels: they differ only in kGroup, the channels per group (1, 4 or 8).
//   grad_w[co, ci, kh, kw] = sum over n, oh, ow of grad_y[n, co, oh, ow]
//                            * x[n, (co / kGroup) * kGroup + ci, oh * s - 1 + kh, ow * s - 1 + kw]
// Stage 1: one block of 256 threads per (output channel, chunk of images). Its threads walk the
// chunk's output positions as one flat range (consecutive threads, consecutive ow: coalesced
// loads of grad_y, and of x through L1; no thread idles on small planes), each keeping
// kGroup * 9 float partial sums in registers; the block adds them
// with warp shuffles and then across its 8 warps in shared memory, always in the same order, and
// writes them to the workspace as [co][chunk][kGroup * 9]. Stage 2 adds each weight's chunks in
// chunk order. No atomics: the result is the same bit for bit on every run.
// Private to kernels/depthwise_conv2d.cu and kernels/grouped_conv2d.cu.
#include <climits>
#include <string>

#include "common.cuh"
#include "conv2d.cuh"
#include "core/cuda/cuda_check.h"
#include "crunet/core/error.h"

namespace crunet::kernels {
namespace {

constexpr int kFilterThreads = 256;
constexpr int kFilterWarps = kFilterThreads / 32;

// The block's sum of each of kValues per-thread values, returned to thread v for value v
// (threadIdx.x < kValues); other threads get 0. blockDim.x must be kFilterThreads.
template <int kValues>
__device__ __forceinline__ float block_sum(float (&values)[kValues],
                                           float (&d_shared)[kValues * kFilterWarps]) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int v = 0; v < kValues; ++v) {
    float sum = values[v];
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
      sum += __shfl_down_sync(0xffffffffu, sum, offset);
    }
    if (lane == 0) d_shared[v * kFilterWarps + warp] = sum;
  }
  __syncthreads();
  float total = 0.0f;
  if (threadIdx.x < kValues) {
    for (int w = 0; w < kFilterWarps; ++w) total += d_shared[threadIdx.x * kFilterWarps + w];
  }
  return total;
}

template <typename T, int kStride, int kGroup>
__global__ void __launch_bounds__(kFilterThreads)
    conv3x3_filter_partials_kernel(const T* __restrict__ d_grad_y, const T* __restrict__ d_x,
                                   float* __restrict__ d_partials, Conv3x3Geometry g,
                                   std::int64_t chunks, std::int64_t images_per_chunk) {
  constexpr int kValues = kGroup * 9;
  __shared__ float shared[kValues * kFilterWarps];
  const std::int64_t block = blockIdx.x;
  const std::int64_t co = block / chunks;
  const std::int64_t n_begin = (block % chunks) * images_per_chunk;
  const std::int64_t n_end =
      n_begin + images_per_chunk < g.batch ? n_begin + images_per_chunk : g.batch;
  const std::int64_t out_area = g.out_height * g.out_width;
  const std::int64_t in_area = g.height * g.width;
  const std::int64_t first_in_channel = (co / kGroup) * kGroup;

  float acc[kValues];
#pragma unroll
  for (int v = 0; v < kValues; ++v) acc[v] = 0.0f;

  // The thread visits the chunk's positions p = threadIdx.x + k * kFilterThreads in (n, oh, ow)
  // order; integer division has no hardware instruction, so (n, oh, ow) advance by carries
  // instead of being divided out at every step.
  const std::int64_t step_h = kFilterThreads / g.out_width;
  const std::int64_t step_w = kFilterThreads % g.out_width;
  std::int64_t n = n_begin + threadIdx.x / out_area;
  std::int64_t oh = (threadIdx.x % out_area) / g.out_width;
  std::int64_t ow = (threadIdx.x % out_area) % g.out_width;
  while (n < n_end) {
    const float dy = load_value(d_grad_y, (n * g.channels + co) * out_area + oh * g.out_width + ow);
    const T* x_group = d_x + (n * g.channels + first_in_channel) * in_area;
#pragma unroll
    for (int kh = 0; kh < 3; ++kh) {
      const std::int64_t ih = oh * kStride - 1 + kh;
      if (ih < 0 || ih >= g.height) continue;
#pragma unroll
      for (int kw = 0; kw < 3; ++kw) {
        const std::int64_t iw = ow * kStride - 1 + kw;
        if (iw < 0 || iw >= g.width) continue;
        const std::int64_t offset = ih * g.width + iw;
#pragma unroll
        for (int ci = 0; ci < kGroup; ++ci) {
          acc[ci * 9 + kh * 3 + kw] += dy * load_value(x_group, ci * in_area + offset);
        }
      }
    }
    ow += step_w;  // step_w < out_width, or out_width < kFilterThreads: one carry at most
    oh += step_h;
    if (ow >= g.out_width) {
      ow -= g.out_width;
      ++oh;
    }
    while (oh >= g.out_height) {  // at most kFilterThreads / out_area + 1 times
      oh -= g.out_height;
      ++n;
    }
  }
  const float total = block_sum<kValues>(acc, shared);
  if (threadIdx.x < kValues) d_partials[block * kValues + threadIdx.x] = total;
}

// grad_w[co, v] = sum over chunks of partials[co][chunk][v], in chunk order.
template <typename T>
__global__ void sum_filter_chunks_kernel(const float* __restrict__ d_partials,
                                         T* __restrict__ d_grad_w, std::int64_t channels,
                                         int values, std::int64_t chunks) {
  const std::int64_t count = channels * values;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t co = i / values;
    const std::int64_t v = i % values;
    const float* partial = d_partials + co * chunks * values + v;
    float sum = 0.0f;
    for (std::int64_t c = 0; c < chunks; ++c) sum += partial[c * values];
    store_value(d_grad_w, i, sum);
  }
}

template <typename T, int kGroup>
void launch_conv3x3_backward_filter(const T* d_grad_y, const T* d_x, T* d_grad_w,
                                    float* d_workspace, const Conv3x3Geometry& g,
                                    cudaStream_t stream) {
  if (g.group_channels != kGroup || (g.stride != 1 && g.stride != 2)) {
    throw ValueError("conv3x3 backward-filter: kernel for " + std::to_string(kGroup) +
                     " channels per group called with " + std::to_string(g.group_channels) +
                     ", stride " + std::to_string(g.stride));
  }
  const Conv3x3FilterChunks c = conv3x3_filter_chunks(g);
  const std::int64_t blocks = g.channels * c.chunks;
  if (blocks == 0 || g.batch * g.out_height * g.out_width == 0) return;
  if (blocks > INT_MAX) throw ValueError("conv3x3 backward-filter: too many channels");
  if (g.stride == 1) {
    conv3x3_filter_partials_kernel<T, 1, kGroup>
        <<<static_cast<unsigned>(blocks), kFilterThreads, 0, stream>>>(
            d_grad_y, d_x, d_workspace, g, c.chunks, c.images_per_chunk);
  } else {
    conv3x3_filter_partials_kernel<T, 2, kGroup>
        <<<static_cast<unsigned>(blocks), kFilterThreads, 0, stream>>>(
            d_grad_y, d_x, d_workspace, g, c.chunks, c.images_per_chunk);
  }
  CRUNET_CUDA_CHECK_LAUNCH("conv3x3_filter_partials_kernel");
  const std::int64_t weights = g.channels * kGroup * 9;
  sum_filter_chunks_kernel<T><<<blocks_for(weights), kThreads, 0, stream>>>(
      d_workspace, d_grad_w, g.channels, kGroup * 9, c.chunks);
  CRUNET_CUDA_CHECK_LAUNCH("sum_filter_chunks_kernel");
}

}  // namespace
}  // namespace crunet::kernels
