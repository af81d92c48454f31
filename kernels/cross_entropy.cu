// Softmax cross-entropy on CUDA, with label smoothing s over C classes.
// Forward: one block per row of logits z (rows grid-strided). Three passes over the row, which
// stays in L1/L2 between them: the maximum m, then S = sum exp(z - m) and Z = sum (z - m), then
// p = exp(z - m - log S) written out for the backward. The row's loss needs no second pass over q:
//   -sum_c q_c log p_c = log S - (1 - s)(z_t - m) - (s / C) Z,   q = (1 - s) onehot(t) + s / C.
// A second, single-block kernel averages the row losses in double, in a fixed order, so the loss
// is deterministic. Targets are checked on the device: a row whose target is outside [0, C) records
// its index with atomicMin, and the host reads that one word back (a synchronisation, which a step
// pays anyway when it logs the loss) to raise the same error as the CPU op.
// Backward: grad_z = (p - q) * grad_loss / N, one grid-stride loop; grad_loss is read on the
// device, so the backward never waits for the host. float32 only for now; int64 indices.
#include <cfloat>

#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cross_entropy_backend.h"
#include "ops/op_checks.h"

namespace crunet::ops::cuda {
namespace {

constexpr unsigned long long kNoBadRow = ~0ull;

// Sum or max of one value per thread over the block; every thread gets the result.
template <bool kMax>
__device__ float block_reduce(float value, float* d_shared) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, value, offset);
    value = kMax ? fmaxf(value, other) : value + other;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  __syncthreads();  // d_shared may still be read from the previous reduction
  if (lane == 0) d_shared[warp] = value;
  __syncthreads();
  value = lane < warps ? d_shared[lane] : (kMax ? -FLT_MAX : 0.0f);
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, value, offset);
    value = kMax ? fmaxf(value, other) : value + other;
  }
  return value;
}

__global__ void softmax_loss_rows_kernel(const float* d_logits, const std::int64_t* d_targets,
                                         float* d_probabilities, float* d_row_loss,
                                         unsigned long long* d_bad_row, std::int64_t rows,
                                         std::int64_t classes, float smoothing) {
  __shared__ float shared[32];
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* z = d_logits + row * classes;
    float* p = d_probabilities + row * classes;
    float m = -FLT_MAX;
    for (std::int64_t c = threadIdx.x; c < classes; c += blockDim.x) m = fmaxf(m, z[c]);
    m = block_reduce<true>(m, shared);
    float exp_sum = 0.0f, shifted_sum = 0.0f;
    for (std::int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      exp_sum += expf(z[c] - m);
      shifted_sum += z[c] - m;
    }
    exp_sum = block_reduce<false>(exp_sum, shared);
    shifted_sum = block_reduce<false>(shifted_sum, shared);
    const float log_sum = logf(exp_sum);
    for (std::int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      p[c] = expf(z[c] - m - log_sum);
    }
    if (threadIdx.x == 0) {
      const std::int64_t t = d_targets[row];
      if (t < 0 || t >= classes) {
        atomicMin(d_bad_row, static_cast<unsigned long long>(row));
        d_row_loss[row] = 0.0f;
      } else {
        d_row_loss[row] = log_sum - (1.0f - smoothing) * (z[t] - m) -
                          smoothing / static_cast<float>(classes) * shifted_sum;
      }
    }
  }
}

// One block: a fixed summation order, so the same inputs give the same loss bit for bit.
__global__ void mean_kernel(const float* d_row_loss, float* d_loss, std::int64_t rows) {
  __shared__ double shared[kernels::kThreads];
  double sum = 0.0;
  for (std::int64_t i = threadIdx.x; i < rows; i += blockDim.x) sum += d_row_loss[i];
  shared[threadIdx.x] = sum;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) d_loss[0] = static_cast<float>(shared[0] / static_cast<double>(rows));
}

__global__ void cross_entropy_backward_kernel(const float* d_grad_loss, const float* d_p,
                                              const std::int64_t* d_targets, float* d_grad,
                                              std::int64_t rows, std::int64_t classes,
                                              float smoothing) {
  const float scale = d_grad_loss[0] / static_cast<float>(rows);
  const float off_target = smoothing / static_cast<float>(classes);
  const std::int64_t count = rows * classes;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t row = i / classes, c = i - row * classes;
    const float q = off_target + (c == d_targets[row] ? 1.0f - smoothing : 0.0f);
    d_grad[i] = (d_p[i] - q) * scale;
  }
}

}  // namespace

std::pair<Tensor, Tensor> cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                                float label_smoothing) {
  check_dtype("cross_entropy", logits, "logits", DType::Float32);
  const std::int64_t rows = logits.size(0), classes = logits.size(1);
  if (classes == 0) fail("cross_entropy", "logits " + logits.description() + " have no classes");
  const TensorOptions f32(DType::Float32, logits.device());
  Tensor probabilities = empty({rows, classes}, f32);
  Tensor row_loss = empty({rows}, f32);
  Tensor loss = empty({}, f32);
  Tensor bad_row = empty({1}, TensorOptions(DType::Int64, logits.device()));
  crunet::cuda::DeviceGuard guard(logits.device());
  cudaStream_t stream = crunet::cuda::current_stream();
  auto* d_bad_row = static_cast<unsigned long long*>(bad_row.data_ptr());
  CRUNET_CUDA_CHECK(cudaMemsetAsync(d_bad_row, 0xff, sizeof(unsigned long long), stream));
  const unsigned row_blocks = static_cast<unsigned>(rows < 65536 ? rows : 65536);
  softmax_loss_rows_kernel<<<row_blocks, kernels::kThreads, 0, stream>>>(
      logits.data<float>(), targets.data<std::int64_t>(), probabilities.data<float>(),
      row_loss.data<float>(), d_bad_row, rows, classes, label_smoothing);
  CRUNET_CUDA_CHECK_LAUNCH("softmax_loss_rows_kernel");
  mean_kernel<<<1, kernels::kThreads, 0, stream>>>(row_loss.data<float>(), loss.data<float>(),
                                                   rows);
  CRUNET_CUDA_CHECK_LAUNCH("mean_kernel");

  unsigned long long first_bad = kNoBadRow;
  CRUNET_CUDA_CHECK(cudaMemcpy(&first_bad, d_bad_row, sizeof first_bad, cudaMemcpyDeviceToHost));
  if (first_bad != kNoBadRow) {
    std::int64_t value = 0;
    CRUNET_CUDA_CHECK(cudaMemcpy(&value, targets.data<std::int64_t>() + first_bad, sizeof value,
                                 cudaMemcpyDeviceToHost));
    fail("cross_entropy", "target " + std::to_string(value) + " at index " +
                              std::to_string(first_bad) + " is outside [0, " +
                              std::to_string(classes) + ")");
  }
  return {loss, probabilities};
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& probabilities,
                              const Tensor& targets, float label_smoothing) {
  check_dtype("cross_entropy backward", grad_loss, "grad_loss", DType::Float32);
  if (grad_loss.numel() != 1) {
    fail("cross_entropy backward", "grad_loss must have one element, got " + grad_loss.description());
  }
  check_same_device("cross_entropy backward", grad_loss, "grad_loss", probabilities,
                    "probabilities");
  const std::int64_t rows = probabilities.size(0), classes = probabilities.size(1);
  Tensor grad = empty({rows, classes}, TensorOptions(DType::Float32, probabilities.device()));
  if (grad.numel() == 0) return grad;
  const Tensor g = grad_loss.contiguous();
  crunet::cuda::DeviceGuard guard(probabilities.device());
  cross_entropy_backward_kernel<<<kernels::blocks_for(rows * classes), kernels::kThreads, 0,
                                  crunet::cuda::current_stream()>>>(
      g.data<float>(), probabilities.data<float>(), targets.data<std::int64_t>(),
      grad.data<float>(), rows, classes, label_smoothing);
  CRUNET_CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
  return grad;
}

}  // namespace crunet::ops::cuda
