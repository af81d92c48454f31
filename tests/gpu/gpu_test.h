#pragma once
// Shared by the GPU suite: the skip that opens every test, and the CUDA-against-CPU comparison.
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "core/cuda/cuda_runtime.h"
#include "crunet/crunet.h"

// Skips the test, with the reason, where this machine has no usable GPU (the build machines:
// cudaGetDeviceCount fails there with "driver version is insufficient").
#define CRUNET_SKIP_WITHOUT_GPU()                                                  \
  do {                                                                             \
    if (!::crunet::cuda_is_available()) {                                          \
      GTEST_SKIP() << "no CUDA GPU on this machine ("                              \
                   << ::crunet::cuda::unavailable_reason() << ")";                 \
    }                                                                              \
  } while (0)

namespace crunet::testing {

struct Tolerance {
  double rtol = 1e-4;
  double atol = 1e-5;
};

using OpFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs f on the CPU inputs and on copies of them on cuda:0, then backward from the same random
// output gradient on both; expects the outputs and every input gradient to agree. Inputs that
// require grad are leaves on both devices.
void expect_cuda_matches_cpu(const OpFunction& f, const std::vector<Tensor>& cpu_inputs,
                             Tolerance forward = {}, Tolerance backward = {});

}  // namespace crunet::testing
