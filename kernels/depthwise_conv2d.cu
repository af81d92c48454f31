// Depthwise 3x3 convolution (groups = channels, padding 1, stride 1 or 2): the CRU's shared W3.
// Forward and backward-data do 9 multiply-adds per element, so they are bound by memory: one
// thread per output (forward) or per input (backward-data) element in a grid-stride loop over the
// flat NCHW tensor. Consecutive threads take consecutive columns, so the loads and the store of
// a warp coalesce; the 3x3 window's neighbours are shared with adjacent
// threads and come from L1; the channel's 9 weights are the same for (almost) the whole warp.
// The plane is never tiled, so small planes (7x7, 14x14) leave no thread idle.
// Backward-data gathers instead of scattering: input (ih, iw) receives from output (oh, ow)
// through tap (kh, kw) when oh * s = ih + 1 - kh and ow * s = iw + 1 - kw — no atomics.
// Backward-filter: the deterministic two-stage reduction of conv3x3_filter.cuh with one channel
// per group.
#include <climits>
#include <cstdint>
#include <string>

#include "common.cuh"
#include "conv2d.cuh"
#include "conv3x3_filter.cuh"
#include "core/cuda/cuda_check.h"
#include "crunet/core/error.h"

namespace crunet::kernels {
namespace {

// Index: the type of the flat index's decomposition, std::uint32_t where the tensors allow (see
// launch_index) — integer division has no hardware instruction, and in 32 bits it costs a third
// of what it does in 64, which matters in a kernel of 9 multiply-adds per element. Offsets and
// the window's coordinates are int64.
template <typename T, int kStride, typename Index>
__global__ void depthwise_forward_kernel(const T* __restrict__ d_x, const T* __restrict__ d_w,
                                         T* __restrict__ d_y, Conv3x3Geometry g) {
  const Index out_width = static_cast<Index>(g.out_width);
  const Index out_height = static_cast<Index>(g.out_height);
  const Index channels = static_cast<Index>(g.channels);
  const Index count = static_cast<Index>(g.batch) * channels * out_height * out_width;
  for (Index i = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<Index>(gridDim.x) * blockDim.x) {
    const Index rest = i / out_width;
    const std::int64_t ow = i - rest * out_width;
    const Index plane = rest / out_height;  // n * channels + c
    const std::int64_t oh = rest - plane * out_height;
    const Index c = plane % channels;
    const T* x_plane = d_x + static_cast<std::int64_t>(plane) * g.height * g.width;
    const T* w = d_w + static_cast<std::int64_t>(c) * 9;
    float sum = 0.0f;
#pragma unroll
    for (int kh = 0; kh < 3; ++kh) {
      const std::int64_t ih = oh * kStride - 1 + kh;
      if (ih < 0 || ih >= g.height) continue;
#pragma unroll
      for (int kw = 0; kw < 3; ++kw) {
        const std::int64_t iw = ow * kStride - 1 + kw;
        if (iw < 0 || iw >= g.width) continue;
        sum += load_value(x_plane, ih * g.width + iw) * load_value(w, kh * 3 + kw);
      }
    }
    store_value(d_y, static_cast<std::int64_t>(i), sum);
  }
}

template <typename T, int kStride, typename Index>
__global__ void depthwise_backward_data_kernel(const T* __restrict__ d_grad_y,
                                               const T* __restrict__ d_w, T* __restrict__ d_grad_x,
                                               Conv3x3Geometry g) {
  const Index width = static_cast<Index>(g.width);
  const Index height = static_cast<Index>(g.height);
  const Index channels = static_cast<Index>(g.channels);
  const Index count = static_cast<Index>(g.batch) * channels * height * width;
  for (Index i = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<Index>(gridDim.x) * blockDim.x) {
    const Index rest = i / width;
    const std::int64_t iw = i - rest * width;
    const Index plane = rest / height;
    const std::int64_t ih = rest - plane * height;
    const Index c = plane % channels;
    const T* dy_plane = d_grad_y + static_cast<std::int64_t>(plane) * g.out_height * g.out_width;
    const T* w = d_w + static_cast<std::int64_t>(c) * 9;
    float sum = 0.0f;
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
        sum += load_value(dy_plane, oh * g.out_width + ow) * load_value(w, kh * 3 + kw);
      }
    }
    store_value(d_grad_x, static_cast<std::int64_t>(i), sum);
  }
}

// 32-bit decomposition when every flat index of x and y, plus a grid's stride, stays below 2^32.
bool fits_32_bits(const Conv3x3Geometry& g) {
  const std::int64_t x = g.batch * g.channels * g.height * g.width;
  const std::int64_t y = g.batch * g.channels * g.out_height * g.out_width;
  return x <= INT32_MAX && y <= INT32_MAX;
}

void check_geometry(const char* pass, const Conv3x3Geometry& g) {
  if (g.group_channels != 1 || (g.stride != 1 && g.stride != 2)) {
    throw ValueError(std::string("depthwise conv3x3 ") + pass + ": needs 1 channel per group and " +
                     "stride 1 or 2, got " + std::to_string(g.group_channels) + " and stride " +
                     std::to_string(g.stride));
  }
}

template <typename T>
void forward(const T* d_x, const T* d_w, T* d_y, const Conv3x3Geometry& g, cudaStream_t stream) {
  check_geometry("forward", g);
  const std::int64_t count = g.batch * g.channels * g.out_height * g.out_width;
  if (count == 0) return;
  const unsigned blocks = blocks_for(count);
  if (fits_32_bits(g)) {
    if (g.stride == 1) {
      depthwise_forward_kernel<T, 1, std::uint32_t>
          <<<blocks, kThreads, 0, stream>>>(d_x, d_w, d_y, g);
    } else {
      depthwise_forward_kernel<T, 2, std::uint32_t>
          <<<blocks, kThreads, 0, stream>>>(d_x, d_w, d_y, g);
    }
  } else if (g.stride == 1) {
    depthwise_forward_kernel<T, 1, std::int64_t><<<blocks, kThreads, 0, stream>>>(d_x, d_w, d_y, g);
  } else {
    depthwise_forward_kernel<T, 2, std::int64_t><<<blocks, kThreads, 0, stream>>>(d_x, d_w, d_y, g);
  }
  CRUNET_CUDA_CHECK_LAUNCH("depthwise_forward_kernel");
}

template <typename T>
void backward_data(const T* d_grad_y, const T* d_w, T* d_grad_x, const Conv3x3Geometry& g,
                   cudaStream_t stream) {
  check_geometry("backward-data", g);
  const std::int64_t count = g.batch * g.channels * g.height * g.width;
  if (count == 0) return;
  const unsigned blocks = blocks_for(count);
  if (fits_32_bits(g)) {
    if (g.stride == 1) {
      depthwise_backward_data_kernel<T, 1, std::uint32_t>
          <<<blocks, kThreads, 0, stream>>>(d_grad_y, d_w, d_grad_x, g);
    } else {
      depthwise_backward_data_kernel<T, 2, std::uint32_t>
          <<<blocks, kThreads, 0, stream>>>(d_grad_y, d_w, d_grad_x, g);
    }
  } else if (g.stride == 1) {
    depthwise_backward_data_kernel<T, 1, std::int64_t>
        <<<blocks, kThreads, 0, stream>>>(d_grad_y, d_w, d_grad_x, g);
  } else {
    depthwise_backward_data_kernel<T, 2, std::int64_t>
        <<<blocks, kThreads, 0, stream>>>(d_grad_y, d_w, d_grad_x, g);
  }
  CRUNET_CUDA_CHECK_LAUNCH("depthwise_backward_data_kernel");
}

}  // namespace

void depthwise_conv3x3_forward(const float* d_x, const float* d_w, float* d_y,
                               const Conv3x3Geometry& g, cudaStream_t stream) {
  forward(d_x, d_w, d_y, g, stream);
}
void depthwise_conv3x3_forward(const std::uint16_t* d_x, const std::uint16_t* d_w,
                               std::uint16_t* d_y, const Conv3x3Geometry& g, cudaStream_t stream) {
  forward(d_x, d_w, d_y, g, stream);
}

void depthwise_conv3x3_backward_data(const float* d_grad_y, const float* d_w, float* d_grad_x,
                                     const Conv3x3Geometry& g, cudaStream_t stream) {
  backward_data(d_grad_y, d_w, d_grad_x, g, stream);
}
void depthwise_conv3x3_backward_data(const std::uint16_t* d_grad_y, const std::uint16_t* d_w,
                                     std::uint16_t* d_grad_x, const Conv3x3Geometry& g,
                                     cudaStream_t stream) {
  backward_data(d_grad_y, d_w, d_grad_x, g, stream);
}

void depthwise_conv3x3_backward_filter(const float* d_grad_y, const float* d_x, float* d_grad_w,
                                       float* d_workspace, const Conv3x3Geometry& g,
                                       cudaStream_t stream) {
  launch_conv3x3_backward_filter<float, 1>(d_grad_y, d_x, d_grad_w, d_workspace, g, stream);
}
void depthwise_conv3x3_backward_filter(const std::uint16_t* d_grad_y, const std::uint16_t* d_x,
                                       std::uint16_t* d_grad_w, float* d_workspace,
                                       const Conv3x3Geometry& g, cudaStream_t stream) {
  launch_conv3x3_backward_filter<std::uint16_t, 1>(d_grad_y, d_x, d_grad_w, d_workspace, g, stream);
}

}  // namespace crunet::kernels
