// conv2d's bias for bfloat16 tensors (float32 biases go through cuDNN in src/ops/cuda/conv2d.cpp).
// add_channel_bias: a grid-stride loop with int64 indices, channel = (i / area) % channels; the
// sum is rounded to bfloat16 once.
// channel_sums: one block per channel (grid-strided); its threads walk the channel's N planes
// (each plane contiguous, so a warp's loads coalesce) keeping float partial sums, which meet by
// warp shuffles and then across warps in shared memory, in a fixed order: deterministic.
#include "common.cuh"
#include "conv2d.cuh"
#include "core/cuda/cuda_check.h"

namespace crunet::kernels {
namespace {

constexpr int kSumWarps = kThreads / 32;

__global__ void add_channel_bias_kernel(std::uint16_t* d_y, const std::uint16_t* d_bias,
                                        std::int64_t channels, std::int64_t area,
                                        std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = (i / area) % channels;
    store_value(d_y, i, load_value(d_y, i) + load_value(d_bias, c));
  }
}

__global__ void channel_sums_kernel(const std::uint16_t* d_grad_y, std::uint16_t* d_grad_bias,
                                    std::int64_t batch, std::int64_t channels, std::int64_t area) {
  __shared__ float warp_sums[kSumWarps];
  for (std::int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    float sum = 0.0f;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t base = (n * channels + c) * area;
      for (std::int64_t i = threadIdx.x; i < area; i += blockDim.x) {
        sum += load_value(d_grad_y, base + i);
      }
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      sum += __shfl_down_sync(0xffffffffu, sum, offset);
    }
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
      float total = 0.0f;
      for (int w = 0; w < kSumWarps; ++w) total += warp_sums[w];
      store_value(d_grad_bias, c, total);
    }
    __syncthreads();  // warp_sums is reused by the next channel
  }
}

}  // namespace

void add_channel_bias(std::uint16_t* d_y, const std::uint16_t* d_bias, std::int64_t batch,
                      std::int64_t channels, std::int64_t area, cudaStream_t stream) {
  const std::int64_t count = batch * channels * area;
  if (count == 0) return;
  add_channel_bias_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_y, d_bias, channels, area,
                                                                      count);
  CRUNET_CUDA_CHECK_LAUNCH("add_channel_bias_kernel");
}

void channel_sums(const std::uint16_t* d_grad_y, std::uint16_t* d_grad_bias, std::int64_t batch,
                  std::int64_t channels, std::int64_t area, cudaStream_t stream) {
  if (channels == 0) return;
  const unsigned blocks = static_cast<unsigned>(channels < 65536 ? channels : 65536);
  channel_sums_kernel<<<blocks, kThreads, 0, stream>>>(d_grad_y, d_grad_bias, batch, channels,
                                                       area);
  CRUNET_CUDA_CHECK_LAUNCH("channel_sums_kernel");
}

}  // namespace crunet::kernels
