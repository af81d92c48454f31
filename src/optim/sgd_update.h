#pragma once
// The fused SGD update of one parameter (see crunet/optim/sgd.h for the rule), per backend.
#include "crunet/core/tensor.h"

namespace crunet::optim {

struct SGDStep {
  float lr;
  float momentum;
  float weight_decay;
  bool nesterov;
  bool first;  // momentum buffer not yet initialised: buf = g
};

void sgd_update_cpu(const Tensor& parameter, const Tensor& grad, const Tensor& momentum,
                    const SGDStep& step);
void sgd_update_cuda(const Tensor& parameter, const Tensor& grad, const Tensor& momentum,
                     const SGDStep& step);

}  // namespace crunet::optim
