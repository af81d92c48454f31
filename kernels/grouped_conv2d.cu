// Grouped 3x3 convolution with small groups (kGroup = 4 or 8 input and output channels per
// group: ResNeXt-50 32x4d's first two stages), padding 1, stride 1 or 2.
// Forward: one block of 128 threads per (image, group, tile of 128 output positions). The
// group's kGroup x kGroup x 9 weights are staged in shared memory, laid out so that the kGroup
// output channels of one (input channel, tap) are adjacent; each thread computes the kGroup
// outputs of its position, so every input value it loads feeds kGroup multiply-adds and the
// input is read about once overall (the 3x3 windows of adjacent threads overlap in L1). All
// threads of a warp read the same weight address: a shared-memory broadcast.
// Backward-data is the same gather with the roles of input and output channels swapped: one
// thread per input position computes the kGroup input-channel gradients from the grad_y values
// that reach it (oh * s = ih + 1 - kh). No atomics anywhere.
// Backward-filter: the deterministic two-stage reduction of conv3x3_filter.cuh.
#include <climits>
#include <string>

#include "common.cuh"
#include "conv2d.cuh"
#include "conv3x3_filter.cuh"
#include "core/cuda/cuda_check.h"
#include "crunet/core/error.h"

namespace crunet::kernels {
namespace {

constexpr int kGroupedThreads = 128;

// The block's (image, group, tile) from its flat index. launch_blocks keeps the grid and every
// plane below 2^31, so the divisions (which have no hardware instruction) are done in 32 bits.
struct GroupTile {
  std::int64_t n, group;
  unsigned tile;
};
__device__ __forceinline__ GroupTile group_tile(std::int64_t groups, std::int64_t tiles) {
  const unsigned image_group = blockIdx.x / static_cast<unsigned>(tiles);
  return GroupTile{image_group / static_cast<unsigned>(groups),
                   image_group % static_cast<unsigned>(groups),
                   blockIdx.x % static_cast<unsigned>(tiles)};
}

template <typename T, int kStride, int kGroup>
__global__ void __launch_bounds__(kGroupedThreads)
    grouped_forward_kernel(const T* __restrict__ d_x, const T* __restrict__ d_w,
                           T* __restrict__ d_y, Conv3x3Geometry g, std::int64_t tiles) {
  constexpr int kWeights = kGroup * kGroup * 9;
  __shared__ __align__(16) float w_shared[kWeights];  // [ci][tap][co]
  const std::int64_t groups = g.channels / kGroup;
  const GroupTile b = group_tile(groups, tiles);
  const T* w_group = d_w + b.group * kWeights;  // [co][ci][tap]
  for (int i = threadIdx.x; i < kWeights; i += kGroupedThreads) {
    const int co = i / (kGroup * 9);
    const int ci_tap = i % (kGroup * 9);
    w_shared[ci_tap * kGroup + co] = load_value(w_group, i);
  }
  __syncthreads();

  const std::int64_t in_area = g.height * g.width;
  const std::int64_t out_area = g.out_height * g.out_width;
  const unsigned q = b.tile * kGroupedThreads + threadIdx.x;
  if (q >= out_area) return;
  const std::int64_t oh = q / static_cast<unsigned>(g.out_width);
  const std::int64_t ow = q % static_cast<unsigned>(g.out_width);
  const std::int64_t first_channel = b.n * g.channels + b.group * kGroup;
  const T* x_group = d_x + first_channel * in_area;

  float acc[kGroup];
#pragma unroll
  for (int co = 0; co < kGroup; ++co) acc[co] = 0.0f;
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
        const float v = load_value(x_group, ci * in_area + offset);
        const float* w = w_shared + (ci * 9 + kh * 3 + kw) * kGroup;
#pragma unroll
        for (int co = 0; co < kGroup; ++co) acc[co] += v * w[co];
      }
    }
  }
  T* y_group = d_y + first_channel * out_area + q;
#pragma unroll
  for (int co = 0; co < kGroup; ++co) store_value(y_group, co * out_area, acc[co]);
}

template <typename T, int kStride, int kGroup>
__global__ void __launch_bounds__(kGroupedThreads)
    grouped_backward_data_kernel(const T* __restrict__ d_grad_y, const T* __restrict__ d_w,
                                 T* __restrict__ d_grad_x, Conv3x3Geometry g, std::int64_t tiles) {
  constexpr int kWeights = kGroup * kGroup * 9;
  __shared__ __align__(16) float w_shared[kWeights];  // [co][tap][ci]
  const std::int64_t groups = g.channels / kGroup;
  const GroupTile b = group_tile(groups, tiles);
  const T* w_group = d_w + b.group * kWeights;  // [co][ci][tap]
  for (int i = threadIdx.x; i < kWeights; i += kGroupedThreads) {
    const int co = i / (kGroup * 9);
    const int ci = (i / 9) % kGroup;
    const int tap = i % 9;
    w_shared[(co * 9 + tap) * kGroup + ci] = load_value(w_group, i);
  }
  __syncthreads();

  const std::int64_t in_area = g.height * g.width;
  const std::int64_t out_area = g.out_height * g.out_width;
  const unsigned q = b.tile * kGroupedThreads + threadIdx.x;
  if (q >= in_area) return;
  const std::int64_t ih = q / static_cast<unsigned>(g.width);
  const std::int64_t iw = q % static_cast<unsigned>(g.width);
  const std::int64_t first_channel = b.n * g.channels + b.group * kGroup;
  const T* dy_group = d_grad_y + first_channel * out_area;

  float acc[kGroup];
#pragma unroll
  for (int ci = 0; ci < kGroup; ++ci) acc[ci] = 0.0f;
#pragma unroll
  for (int kh = 0; kh < 3; ++kh) {
    const std::int64_t th = ih + 1 - kh;  // = oh * stride
    if (th < 0 || th % kStride != 0) continue;
    const std::int64_t oh = th / kStride;
    if (oh >= g.out_height) continue;
#pragma unroll
    for (int kw = 0; kw < 3; ++kw) {
      const std::int64_t tw = iw + 1 - kw;
      if (tw < 0 || tw % kStride != 0) continue;
      const std::int64_t ow = tw / kStride;
      if (ow >= g.out_width) continue;
      const std::int64_t offset = oh * g.out_width + ow;
#pragma unroll
      for (int co = 0; co < kGroup; ++co) {
        const float v = load_value(dy_group, co * out_area + offset);
        const float* w = w_shared + (co * 9 + kh * 3 + kw) * kGroup;
#pragma unroll
        for (int ci = 0; ci < kGroup; ++ci) acc[ci] += v * w[ci];
      }
    }
  }
  T* dx_group = d_grad_x + first_channel * in_area + q;
#pragma unroll
  for (int ci = 0; ci < kGroup; ++ci) store_value(dx_group, ci * in_area, acc[ci]);
}

void check_geometry(const char* pass, const Conv3x3Geometry& g) {
  const bool group_ok =
      (g.group_channels == 4 || g.group_channels == 8) && g.channels % g.group_channels == 0;
  if (!group_ok || (g.stride != 1 && g.stride != 2)) {
    throw ValueError(std::string("grouped conv3x3 ") + pass + ": needs 4 or 8 channels per " +
                     "group dividing the " + std::to_string(g.channels) + " channels and stride " +
                     "1 or 2, got " + std::to_string(g.group_channels) + " and stride " +
                     std::to_string(g.stride));
  }
}

// Blocks of a launch over (image, group, tile of `area` positions); 0 when there is no work.
std::int64_t launch_blocks(const Conv3x3Geometry& g, std::int64_t area, std::int64_t* tiles) {
  *tiles = (area + kGroupedThreads - 1) / kGroupedThreads;
  const std::int64_t blocks = g.batch * (g.channels / g.group_channels) * *tiles;
  if (blocks > INT_MAX || area > INT_MAX) {
    throw ValueError("grouped conv3x3: the tensor is too large for one launch");
  }
  return blocks;
}

template <typename T, int kGroup>
void forward(const T* d_x, const T* d_w, T* d_y, const Conv3x3Geometry& g, cudaStream_t stream) {
  std::int64_t tiles = 0;
  const std::int64_t blocks = launch_blocks(g, g.out_height * g.out_width, &tiles);
  if (blocks == 0) return;
  const unsigned grid = static_cast<unsigned>(blocks);
  if (g.stride == 1) {
    grouped_forward_kernel<T, 1, kGroup>
        <<<grid, kGroupedThreads, 0, stream>>>(d_x, d_w, d_y, g, tiles);
  } else {
    grouped_forward_kernel<T, 2, kGroup>
        <<<grid, kGroupedThreads, 0, stream>>>(d_x, d_w, d_y, g, tiles);
  }
  CRUNET_CUDA_CHECK_LAUNCH("grouped_forward_kernel");
}

template <typename T, int kGroup>
void backward_data(const T* d_grad_y, const T* d_w, T* d_grad_x, const Conv3x3Geometry& g,
                   cudaStream_t stream) {
  std::int64_t tiles = 0;
  const std::int64_t blocks = launch_blocks(g, g.height * g.width, &tiles);
  if (blocks == 0) return;
  const unsigned grid = static_cast<unsigned>(blocks);
  if (g.stride == 1) {
    grouped_backward_data_kernel<T, 1, kGroup>
        <<<grid, kGroupedThreads, 0, stream>>>(d_grad_y, d_w, d_grad_x, g, tiles);
  } else {
    grouped_backward_data_kernel<T, 2, kGroup>
        <<<grid, kGroupedThreads, 0, stream>>>(d_grad_y, d_w, d_grad_x, g, tiles);
  }
  CRUNET_CUDA_CHECK_LAUNCH("grouped_backward_data_kernel");
}

template <typename T>
void forward_any(const T* d_x, const T* d_w, T* d_y, const Conv3x3Geometry& g,
                 cudaStream_t stream) {
  check_geometry("forward", g);
  if (g.group_channels == 4) {
    forward<T, 4>(d_x, d_w, d_y, g, stream);
  } else {
    forward<T, 8>(d_x, d_w, d_y, g, stream);
  }
}

template <typename T>
void backward_data_any(const T* d_grad_y, const T* d_w, T* d_grad_x, const Conv3x3Geometry& g,
                       cudaStream_t stream) {
  check_geometry("backward-data", g);
  if (g.group_channels == 4) {
    backward_data<T, 4>(d_grad_y, d_w, d_grad_x, g, stream);
  } else {
    backward_data<T, 8>(d_grad_y, d_w, d_grad_x, g, stream);
  }
}

template <typename T>
void backward_filter_any(const T* d_grad_y, const T* d_x, T* d_grad_w, float* d_workspace,
                         const Conv3x3Geometry& g, cudaStream_t stream) {
  check_geometry("backward-filter", g);
  if (g.group_channels == 4) {
    launch_conv3x3_backward_filter<T, 4>(d_grad_y, d_x, d_grad_w, d_workspace, g, stream);
  } else {
    launch_conv3x3_backward_filter<T, 8>(d_grad_y, d_x, d_grad_w, d_workspace, g, stream);
  }
}

}  // namespace

void grouped_conv3x3_forward(const float* d_x, const float* d_w, float* d_y,
                             const Conv3x3Geometry& g, cudaStream_t stream) {
  forward_any(d_x, d_w, d_y, g, stream);
}
void grouped_conv3x3_forward(const std::uint16_t* d_x, const std::uint16_t* d_w, std::uint16_t* d_y,
                             const Conv3x3Geometry& g, cudaStream_t stream) {
  forward_any(d_x, d_w, d_y, g, stream);
}

void grouped_conv3x3_backward_data(const float* d_grad_y, const float* d_w, float* d_grad_x,
                                   const Conv3x3Geometry& g, cudaStream_t stream) {
  backward_data_any(d_grad_y, d_w, d_grad_x, g, stream);
}
void grouped_conv3x3_backward_data(const std::uint16_t* d_grad_y, const std::uint16_t* d_w,
                                   std::uint16_t* d_grad_x, const Conv3x3Geometry& g,
                                   cudaStream_t stream) {
  backward_data_any(d_grad_y, d_w, d_grad_x, g, stream);
}

void grouped_conv3x3_backward_filter(const float* d_grad_y, const float* d_x, float* d_grad_w,
                                     float* d_workspace, const Conv3x3Geometry& g,
                                     cudaStream_t stream) {
  backward_filter_any(d_grad_y, d_x, d_grad_w, d_workspace, g, stream);
}
void grouped_conv3x3_backward_filter(const std::uint16_t* d_grad_y, const std::uint16_t* d_x,
                                     std::uint16_t* d_grad_w, float* d_workspace,
                                     const Conv3x3Geometry& g, cudaStream_t stream) {
  backward_filter_any(d_grad_y, d_x, d_grad_w, d_workspace, g, stream);
}

}  // namespace crunet::kernels
