#include "core/parallel_for.h"
#include "sgd_update.h"

namespace crunet::optim {

void sgd_update_cpu(const Tensor& parameter, const Tensor& grad, const Tensor& momentum,
                    const SGDStep& step) {
  float* p = parameter.data<float>();
  const float* g = grad.data<float>();
  float* buf = momentum.data<float>();
  const float lr = step.lr, mu = step.momentum, wd = step.weight_decay;
  const bool nesterov = step.nesterov, first = step.first;
  parallel_for(parameter.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) {
      const float d = g[i] + wd * p[i];
      const float b = first ? d : mu * buf[i] + d;
      buf[i] = b;
      p[i] -= lr * (nesterov ? d + mu * b : b);
    }
  });
}

}  // namespace crunet::optim
