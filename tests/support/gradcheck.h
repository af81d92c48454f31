#pragma once
// Gradient checking by central finite differences, in the spirit of Caffe's GradientChecker.
// The scalar checked is L = sum(f(inputs) * R) for a fixed random R, accumulated in double.
// Analytic gradients come from crunet's backward; numeric ones perturb one float32 element (or all
// of them along a random direction) by +-eps and divide by the perturbation actually stored.
// Kinks (ReLU at 0, max-pool ties) are the caller's to avoid by choosing inputs away from them.
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet::testing {

struct GradcheckOptions {
  double eps = 1e-2;
  double rtol = 1e-2;
  double atol = 1e-3;
  int elements_per_input = 24;  // single elements checked per input (all, if fewer)
  int directions = 3;           // random whole-tensor directions checked
  std::uint64_t seed = 1234;
};

using TestFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks the gradient of every input that requires grad.
::testing::AssertionResult gradcheck(const TestFunction& f, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options = {});

// Largest |a - b| / (atol + rtol * max(|a|, |b|)) over all elements; <= 1 means "close".
double closeness(const std::vector<float>& a, const std::vector<float>& b, double rtol,
                 double atol);

// ||a - b|| / max(||a||, ||b||) in the Euclidean norm: for sums of many terms whose rounding makes
// single small elements unreliable.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b);

// AssertionResult for two tensors of the same shape being elementwise close.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                     double rtol = 1e-4, double atol = 1e-5);

}  // namespace crunet::testing
