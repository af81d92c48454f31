// The SGD update on CUDA (rule in crunet/optim/sgd.h): one grid-stride pass over a parameter that
// reads p, g and the momentum buffer and writes p and the buffer: 3 loads, 2 stores per element,
// with float32 master weights. Memory-bound; one launch per parameter.
#include "common.cuh"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "optim/sgd_update.h"

namespace crunet::optim {
namespace {

__global__ void sgd_update_kernel(float* d_p, const float* d_g, float* d_buf, std::int64_t count,
                                  float lr, float mu, float wd, bool nesterov, bool first) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
       i < count; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float p = d_p[i];
    const float d = d_g[i] + wd * p;
    const float b = first ? d : mu * d_buf[i] + d;
    d_buf[i] = b;
    d_p[i] = p - lr * (nesterov ? d + mu * b : b);
  }
}

}  // namespace

void sgd_update_cuda(const Tensor& parameter, const Tensor& grad, const Tensor& momentum,
                     const SGDStep& step) {
  const std::int64_t count = parameter.numel();
  if (count == 0) return;
  crunet::cuda::DeviceGuard guard(parameter.device());
  sgd_update_kernel<<<kernels::blocks_for(count), kernels::kThreads, 0,
                      crunet::cuda::current_stream()>>>(
      parameter.data<float>(), grad.data<float>(), momentum.data<float>(), count, step.lr,
      step.momentum, step.weight_decay, step.nesterov, step.first);
  CRUNET_CUDA_CHECK_LAUNCH("sgd_update_kernel");
}

}  // namespace crunet::optim
