// 2-d max and average pooling, forward and backward, for the bfloat16 path of
// src/ops/cuda/pool2d.cpp (float32 goes through cuDNN). Forward: one thread per output element
// (grid-stride, int64 indices), looping over its window, clipped to the input. Backward: one
// thread per input element, gathering from the outputs whose windows contain it
// (ops/cuda/pool2d_windows.h), so every value is written once, without atomics, and the sum runs
// in the order of the outputs, as the CPU reference's scatter adds them. Neighbouring threads
// read neighbouring columns, so loads coalesce. The pools of CRU-Net and ResNeXt are the stem's
// one 3x3/2 max pool: small windows, memory-bound.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "pool2d.cuh"

namespace crunet::kernels {
namespace {

using ops::pool2d::covering_outputs;
using ops::pool2d::Geometry;
using ops::pool2d::Range;
using ops::pool2d::window_inputs;

template <typename T>
__global__ void max_forward_kernel(const T* d_x, T* d_y, std::int32_t* d_indices, Geometry g) {
  const std::int64_t outputs = g.oh * g.ow;
  const std::int64_t count = g.planes * outputs;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t p = i / outputs, o = i - p * outputs;
    const std::int64_t oh = o / g.ow, ow = o - oh * g.ow;
    const Range rows = window_inputs(oh, g.h, g.kernel, g.stride, g.padding);
    const Range cols = window_inputs(ow, g.w, g.kernel, g.stride, g.padding);
    const std::int64_t plane = p * g.h * g.w;
    float best = __uint_as_float(0xff800000u);  // -infinity
    std::int64_t best_index = rows.begin * g.w + cols.begin;
    for (std::int64_t ih = rows.begin; ih < rows.end; ++ih) {
      for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) {
        const float v = load_value(d_x, plane + ih * g.w + iw);
        if (v > best || isnan(v)) {  // strictly greater: the first maximum wins; NaN propagates
          best = v;
          best_index = ih * g.w + iw;
        }
      }
    }
    store_value(d_y, i, best);
    if (d_indices != nullptr) d_indices[i] = static_cast<std::int32_t>(best_index);
  }
}

template <typename T>
__global__ void max_backward_kernel(const T* d_grad_y, const std::int32_t* d_indices, T* d_grad_x,
                                    Geometry g) {
  const std::int64_t area = g.h * g.w, outputs = g.oh * g.ow;
  const std::int64_t count = g.planes * area;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t p = i / area, position = i - p * area;
    const std::int64_t ih = position / g.w, iw = position - ih * g.w;
    const Range rows = covering_outputs(ih, g.oh, g.kernel, g.stride, g.padding);
    const Range cols = covering_outputs(iw, g.ow, g.kernel, g.stride, g.padding);
    float sum = 0.0f;
    for (std::int64_t oh = rows.begin; oh < rows.end; ++oh) {
      for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) {
        const std::int64_t o = p * outputs + oh * g.ow + ow;
        if (d_indices[o] == position) sum += load_value(d_grad_y, o);
      }
    }
    store_value(d_grad_x, i, sum);
  }
}

template <typename T>
__global__ void avg_forward_kernel(const T* d_x, T* d_y, Geometry g) {
  const std::int64_t outputs = g.oh * g.ow;
  const std::int64_t count = g.planes * outputs;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t p = i / outputs, o = i - p * outputs;
    const std::int64_t oh = o / g.ow, ow = o - oh * g.ow;
    const Range rows = window_inputs(oh, g.h, g.kernel, g.stride, g.padding);
    const Range cols = window_inputs(ow, g.w, g.kernel, g.stride, g.padding);
    const std::int64_t plane = p * g.h * g.w;
    float sum = 0.0f;
    for (std::int64_t ih = rows.begin; ih < rows.end; ++ih) {
      for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) {
        sum += load_value(d_x, plane + ih * g.w + iw);
      }
    }
    const auto window = static_cast<float>((rows.end - rows.begin) * (cols.end - cols.begin));
    store_value(d_y, i, sum / window);
  }
}

template <typename T>
__global__ void avg_backward_kernel(const T* d_grad_y, T* d_grad_x, Geometry g) {
  const std::int64_t area = g.h * g.w, outputs = g.oh * g.ow;
  const std::int64_t count = g.planes * area;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t p = i / area, position = i - p * area;
    const std::int64_t ih = position / g.w, iw = position - ih * g.w;
    const Range rows = covering_outputs(ih, g.oh, g.kernel, g.stride, g.padding);
    const Range cols = covering_outputs(iw, g.ow, g.kernel, g.stride, g.padding);
    float sum = 0.0f;
    for (std::int64_t oh = rows.begin; oh < rows.end; ++oh) {
      const Range window_rows = window_inputs(oh, g.h, g.kernel, g.stride, g.padding);
      for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) {
        const Range window_cols = window_inputs(ow, g.w, g.kernel, g.stride, g.padding);
        const auto window = static_cast<float>((window_rows.end - window_rows.begin) *
                                               (window_cols.end - window_cols.begin));
        sum += load_value(d_grad_y, p * outputs + oh * g.ow + ow) / window;
      }
    }
    store_value(d_grad_x, i, sum);
  }
}

}  // namespace

template <typename T>
void max_pool2d_forward(const T* d_x, T* d_y, std::int32_t* d_indices, const Geometry& g,
                        cudaStream_t stream) {
  const std::int64_t count = g.planes * g.oh * g.ow;
  if (count == 0) return;
  max_forward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_x, d_y, d_indices, g);
  CRUNET_CUDA_CHECK_LAUNCH("max_forward_kernel");
}

template <typename T>
void max_pool2d_backward(const T* d_grad_y, const std::int32_t* d_indices, T* d_grad_x,
                         const Geometry& g, cudaStream_t stream) {
  const std::int64_t count = g.planes * g.h * g.w;
  if (count == 0) return;
  max_backward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_grad_y, d_indices, d_grad_x,
                                                                  g);
  CRUNET_CUDA_CHECK_LAUNCH("max_backward_kernel");
}

template <typename T>
void avg_pool2d_forward(const T* d_x, T* d_y, const Geometry& g, cudaStream_t stream) {
  const std::int64_t count = g.planes * g.oh * g.ow;
  if (count == 0) return;
  avg_forward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_x, d_y, g);
  CRUNET_CUDA_CHECK_LAUNCH("avg_forward_kernel");
}

template <typename T>
void avg_pool2d_backward(const T* d_grad_y, T* d_grad_x, const Geometry& g, cudaStream_t stream) {
  const std::int64_t count = g.planes * g.h * g.w;
  if (count == 0) return;
  avg_backward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(d_grad_y, d_grad_x, g);
  CRUNET_CUDA_CHECK_LAUNCH("avg_backward_kernel");
}

// The two storage types: float32, and bfloat16 as its 16 bits.
using Bf16 = std::uint16_t;
template void max_pool2d_forward<float>(const float*, float*, std::int32_t*, const Geometry&,
                                        cudaStream_t);
template void max_pool2d_forward<Bf16>(const Bf16*, Bf16*, std::int32_t*, const Geometry&,
                                       cudaStream_t);
template void max_pool2d_backward<float>(const float*, const std::int32_t*, float*,
                                         const Geometry&, cudaStream_t);
template void max_pool2d_backward<Bf16>(const Bf16*, const std::int32_t*, Bf16*, const Geometry&,
                                        cudaStream_t);
template void avg_pool2d_forward<float>(const float*, float*, const Geometry&, cudaStream_t);
template void avg_pool2d_forward<Bf16>(const Bf16*, Bf16*, const Geometry&, cudaStream_t);
template void avg_pool2d_backward<float>(const float*, float*, const Geometry&, cudaStream_t);
template void avg_pool2d_backward<Bf16>(const Bf16*, Bf16*, const Geometry&, cudaStream_t);

}  // namespace crunet::kernels
