#include "sgd_update.h"

namespace crunet::optim {

void sgd_update_cpu(const Tensor& parameter, const Tensor& grad, const Tensor& momentum,
                    const SGDStep& step) {
  float* p = parameter.data<float>();
  const float* g = grad.data<float>();
  float* buf = momentum.data<float>();
  const std::int64_t count = parameter.numel();
  const float lr = step.lr, mu = step.momentum, wd = step.weight_decay;
  const bool nesterov = step.nesterov, first = step.first;
#pragma omp parallel for simd if (count > 65536)
  for (std::int64_t i = 0; i < count; ++i) {
    const float d = g[i] + wd * p[i];
    const float b = first ? d : mu * buf[i] + d;
    buf[i] = b;
    p[i] -= lr * (nesterov ? d + mu * b : b);
  }
}

}  // namespace crunet::optim
