#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace crunet::testing {
namespace {

double weighted_sum(const Tensor& out, const std::vector<float>& weights) {
  const std::vector<float> values = out.to_vector();
  double sum = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) sum += static_cast<double>(values[i]) * weights[i];
  return sum;
}

std::vector<Tensor> detached_copies(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> copies;
  for (const Tensor& input : inputs) copies.push_back(input.defined() ? input.clone() : Tensor());
  return copies;
}

double evaluate(const TestFunction& f, const std::vector<Tensor>& inputs,
                const std::vector<float>& weights) {
  NoGradGuard no_grad;
  return weighted_sum(f(inputs), weights);
}

bool close(double a, double b, double rtol, double atol) {
  return std::fabs(a - b) <= atol + rtol * std::max(std::fabs(a), std::fabs(b));
}

}  // namespace

double closeness(const std::vector<float>& a, const std::vector<float>& b, double rtol,
                 double atol) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double scale = atol + rtol * std::max(std::fabs(a[i]), std::fabs(b[i]));
    const double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    worst = std::max(worst, std::isfinite(diff) ? diff / scale : INFINITY);
  }
  return worst;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, norm_a = 0.0, norm_b = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    norm_a += static_cast<double>(a[i]) * a[i];
    norm_b += static_cast<double>(b[i]) * b[i];
  }
  const double norm = std::sqrt(std::max(norm_a, norm_b));
  return norm == 0.0 ? std::sqrt(diff) : std::sqrt(diff) / norm;
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol,
                                     double atol) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shapes differ: " << shape_str(actual.shape())
                                         << " vs " << shape_str(expected.shape());
  }
  const std::vector<float> a = actual.to_vector();
  const std::vector<float> e = expected.to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(static_cast<double>(a[i]) - e[i]) <=
          atol + rtol * std::max(std::fabs(a[i]), std::fabs(e[i])))) {
      return ::testing::AssertionFailure()
             << "element " << i << " of " << shape_str(actual.shape()) << ": " << a[i]
             << " vs expected " << e[i] << " (rtol " << rtol << ", atol " << atol << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult gradcheck(const TestFunction& f, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options) {
  Generator generator(options.seed);
  // Analytic gradients of L = sum(f(x) * R).
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    Tensor leaf;
    if (input.defined()) {
      leaf = input.detach().clone();
      if (input.requires_grad()) leaf.requires_grad(true);
    }
    leaves.push_back(leaf);
  }
  Tensor out = f(leaves);
  std::vector<float> weights(static_cast<std::size_t>(out.numel()));
  for (float& w : weights) w = static_cast<float>(generator.normal());
  out.backward(from_vector(weights, out.shape(), TensorOptions(out.dtype(), out.device())));

  std::ostringstream failures;
  int failure_count = 0;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i].defined() || !leaves[i].requires_grad()) continue;
    if (!leaves[i].grad().defined()) {
      return ::testing::AssertionFailure() << "input " << i << " received no gradient";
    }
    const std::vector<float> analytic = leaves[i].grad().to_vector();
    const std::int64_t count = leaves[i].numel();
    std::vector<std::int64_t> picks;
    if (count <= options.elements_per_input) {
      for (std::int64_t j = 0; j < count; ++j) picks.push_back(j);
    } else {
      for (int j = 0; j < options.elements_per_input; ++j) {
        picks.push_back(static_cast<std::int64_t>(generator.below(static_cast<std::uint64_t>(count))));
      }
    }
    for (std::int64_t j : picks) {
      std::vector<Tensor> plus = detached_copies(inputs);
      std::vector<Tensor> minus = detached_copies(inputs);
      std::vector<float> values = inputs[i].to_vector();
      const float base = values[static_cast<std::size_t>(j)];
      values[static_cast<std::size_t>(j)] = base + static_cast<float>(options.eps);
      const float up = values[static_cast<std::size_t>(j)];
      plus[i].copy_(from_vector(values, inputs[i].shape()));
      values[static_cast<std::size_t>(j)] = base - static_cast<float>(options.eps);
      const float down = values[static_cast<std::size_t>(j)];
      minus[i].copy_(from_vector(values, inputs[i].shape()));
      const double numeric = (evaluate(f, plus, weights) - evaluate(f, minus, weights)) /
                             (static_cast<double>(up) - down);
      const double a = analytic[static_cast<std::size_t>(j)];
      if (!close(a, numeric, options.rtol, options.atol)) {
        if (++failure_count <= 8) {
          failures << "\n  input " << i << " element " << j << ": analytic " << a << ", numeric "
                   << numeric;
        }
      }
    }
  }
  // Directional derivatives along random directions through all checked inputs at once.
  for (int d = 0; d < options.directions; ++d) {
    std::vector<Tensor> plus = detached_copies(inputs);
    std::vector<Tensor> minus = detached_copies(inputs);
    double predicted = 0.0;
    bool any_checked = false;
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      if (!leaves[i].defined() || !leaves[i].requires_grad()) continue;
      const std::vector<float> base = inputs[i].to_vector();
      const std::vector<float> analytic = leaves[i].grad().to_vector();
      std::vector<float> up(base.size()), down(base.size());
      for (std::size_t j = 0; j < base.size(); ++j) {
        const double v = generator.normal();
        up[j] = static_cast<float>(base[j] + options.eps * v);
        down[j] = static_cast<float>(base[j] - options.eps * v);
        // Use the perturbation actually stored in float32.
        predicted += analytic[j] * (static_cast<double>(up[j]) - down[j]) / 2.0;
      }
      plus[i].copy_(from_vector(up, inputs[i].shape()));
      minus[i].copy_(from_vector(down, inputs[i].shape()));
      any_checked = true;
    }
    if (!any_checked) break;
    const double numeric = (evaluate(f, plus, weights) - evaluate(f, minus, weights)) / 2.0;
    if (!close(predicted, numeric, options.rtol, options.atol * 10)) {
      ++failure_count;
      failures << "\n  direction " << d << ": analytic " << predicted << ", numeric " << numeric;
    }
  }
  if (failure_count > 0) {
    return ::testing::AssertionFailure() << failure_count << " gradient mismatches" << failures.str();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace crunet::testing
