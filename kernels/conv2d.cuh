#pragma once
// conv2d's custom kernels: 3x3 convolutions with padding 1 and stride 1 or 2 whose groups are
// small — depthwise (one channel per group, kernels/depthwise_conv2d.cu) and grouped with 4 or 8
// channels per group (kernels/grouped_conv2d.cu) — and the per-channel bias of bfloat16 outputs
// (kernels/conv2d_bias.cu). Tensors are contiguous NCHW; x and y have the same channel count;
// the weight is [channels, group_channels, 3, 3]. Storage float32 (float) or bfloat16 (its bits,
// std::uint16_t, as common.cuh); arithmetic and accumulation in float32.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace crunet::kernels {

struct Conv3x3Geometry {
  std::int64_t batch = 0, channels = 0, height = 0, width = 0;  // x
  std::int64_t out_height = 0, out_width = 0;                   // y: (size - 1) / stride + 1
  int stride = 1;                                               // 1 or 2
  int group_channels = 1;                                       // 1 (depthwise), 4 or 8
};

// Backward-filter reduces over N x out_height x out_width per weight. It runs in two stages so
// that the result is the same bit for bit on every run (no float atomics): blocks of the first
// stage each own one output channel and one chunk of consecutive images and write their partial
// sums to a float workspace; the second stage adds the chunks of each weight in chunk order.
// The chunking depends on the geometry only, never on the device.
struct Conv3x3FilterChunks {
  std::int64_t chunks = 1;            // per output channel
  std::int64_t images_per_chunk = 1;  // the last chunk may hold fewer
};

inline Conv3x3FilterChunks conv3x3_filter_chunks(const Conv3x3Geometry& g) {
  constexpr std::int64_t kTargetBlocks = 2048;  // enough to fill a large GPU several times over
  constexpr std::int64_t kMinPositionsPerBlock = 256;
  if (g.batch < 1 || g.channels < 1) return Conv3x3FilterChunks{};
  const std::int64_t positions = g.batch * g.out_height * g.out_width;
  std::int64_t wanted = (kTargetBlocks + g.channels - 1) / g.channels;
  const std::int64_t by_work = positions / kMinPositionsPerBlock;
  if (wanted > by_work) wanted = by_work;
  if (wanted > g.batch) wanted = g.batch;
  if (wanted < 1) wanted = 1;
  Conv3x3FilterChunks c;
  c.images_per_chunk = (g.batch + wanted - 1) / wanted;
  c.chunks = (g.batch + c.images_per_chunk - 1) / c.images_per_chunk;  // none of them empty
  return c;
}

// Bytes of float workspace that backward-filter needs: channels x chunks x group_channels x 9.
inline std::size_t conv3x3_filter_workspace_bytes(const Conv3x3Geometry& g) {
  return static_cast<std::size_t>(g.channels * conv3x3_filter_chunks(g).chunks * g.group_channels *
                                  9) *
         sizeof(float);
}

// Depthwise (group_channels 1). grad_w is written, not accumulated.
void depthwise_conv3x3_forward(const float* d_x, const float* d_w, float* d_y,
                               const Conv3x3Geometry& g, cudaStream_t stream);
void depthwise_conv3x3_forward(const std::uint16_t* d_x, const std::uint16_t* d_w,
                               std::uint16_t* d_y, const Conv3x3Geometry& g, cudaStream_t stream);
void depthwise_conv3x3_backward_data(const float* d_grad_y, const float* d_w, float* d_grad_x,
                                     const Conv3x3Geometry& g, cudaStream_t stream);
void depthwise_conv3x3_backward_data(const std::uint16_t* d_grad_y, const std::uint16_t* d_w,
                                     std::uint16_t* d_grad_x, const Conv3x3Geometry& g,
                                     cudaStream_t stream);
void depthwise_conv3x3_backward_filter(const float* d_grad_y, const float* d_x, float* d_grad_w,
                                       float* d_workspace, const Conv3x3Geometry& g,
                                       cudaStream_t stream);
void depthwise_conv3x3_backward_filter(const std::uint16_t* d_grad_y, const std::uint16_t* d_x,
                                       std::uint16_t* d_grad_w, float* d_workspace,
                                       const Conv3x3Geometry& g, cudaStream_t stream);

// Grouped, group_channels 4 or 8.
void grouped_conv3x3_forward(const float* d_x, const float* d_w, float* d_y,
                             const Conv3x3Geometry& g, cudaStream_t stream);
void grouped_conv3x3_forward(const std::uint16_t* d_x, const std::uint16_t* d_w, std::uint16_t* d_y,
                             const Conv3x3Geometry& g, cudaStream_t stream);
void grouped_conv3x3_backward_data(const float* d_grad_y, const float* d_w, float* d_grad_x,
                                   const Conv3x3Geometry& g, cudaStream_t stream);
void grouped_conv3x3_backward_data(const std::uint16_t* d_grad_y, const std::uint16_t* d_w,
                                   std::uint16_t* d_grad_x, const Conv3x3Geometry& g,
                                   cudaStream_t stream);
void grouped_conv3x3_backward_filter(const float* d_grad_y, const float* d_x, float* d_grad_w,
                                     float* d_workspace, const Conv3x3Geometry& g,
                                     cudaStream_t stream);
void grouped_conv3x3_backward_filter(const std::uint16_t* d_grad_y, const std::uint16_t* d_x,
                                     std::uint16_t* d_grad_w, float* d_workspace,
                                     const Conv3x3Geometry& g, cudaStream_t stream);

// bfloat16 bias of an NCHW tensor of `planes` = N x C planes of `area` elements:
// y[n, c, :] += bias[c], and grad_bias[c] = sum of grad_y over N, H, W (deterministic, float sums).
void add_channel_bias(std::uint16_t* d_y, const std::uint16_t* d_bias, std::int64_t batch,
                      std::int64_t channels, std::int64_t area, cudaStream_t stream);
void channel_sums(const std::uint16_t* d_grad_y, std::uint16_t* d_grad_bias, std::int64_t batch,
                  std::int64_t channels, std::int64_t area, cudaStream_t stream);

}  // namespace crunet::kernels
