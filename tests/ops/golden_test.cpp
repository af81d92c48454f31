// crunet's ops against golden tensors that PyTorch computed (tools/make_fixtures.py wrote them to
// tests/fixtures/*.safetensors). The goldens were computed in float64 from float32 inputs and
// rounded once, so the tolerances below measure crunet's float32 error alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "crunet/crunet.h"
#include "support/fixtures.h"

namespace crunet {
namespace {

constexpr double kRtol = 1e-4;
constexpr double kAtol = 1e-5;

SafetensorsFile load_fixture(const std::string& name) {
  return load_safetensors(testing::fixture_path(name));
}

// A fresh leaf holding the fixture's values, for crunet to accumulate a gradient into.
Tensor leaf(const SafetensorsFile& file, const std::string& name) {
  return file.at(name).clone().requires_grad(true);
}

// Elementwise |a - e| <= atol + rtol * max(|a|, |e|); on failure says where and by how much.
::testing::AssertionResult matches(const Tensor& actual, const Tensor& expected, double rtol,
                                   double atol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << "no tensor (no gradient?)";
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(actual.shape()) << ", expected " << shape_str(expected.shape());
  }
  const std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  double max_abs = 0.0, worst_ratio = 0.0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - e[i]);
    const double ratio =
        diff == 0.0 ? 0.0 : diff / (atol + rtol * std::max(std::fabs(a[i]), std::fabs(e[i])));
    max_abs = std::max(max_abs, diff);
    if (!(ratio <= worst_ratio)) {  // also catches NaN
      worst_ratio = ratio;
      worst = i;
    }
  }
  if (worst_ratio <= 1.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max |error| " << max_abs << "; worst element " << worst << " of "
         << shape_str(actual.shape()) << ": " << a[worst] << " vs expected " << e[worst] << " ("
         << worst_ratio << " x the tolerance rtol " << rtol << ", atol " << atol << ")";
}

#define EXPECT_MATCHES(actual, file, name, rtol, atol) \
  EXPECT_TRUE(matches((actual), (file).at(name), (rtol), (atol))) << (name)

// ---------------------------------------------------------------------------------------------
// conv2d

struct ConvCase {
  const char* name;
  ops::Conv2dParams params;
  std::int64_t kernel;
  bool bias;
};

std::ostream& operator<<(std::ostream& out, const ConvCase& c) { return out << c.name; }

// The 7x7 needs no looser tolerance: its worst element is at a fifth of rtol 1e-4.
const ConvCase kConvCases[] = {
    {"k3s1p1", {1, 1, 1}, 3, true},  {"k3s2g4", {2, 1, 4}, 3, false},
    {"dw3x3", {1, 1, 6}, 3, true},   {"dw3x3s2", {2, 1, 8}, 3, false},
    {"k7s2p3", {2, 3, 1}, 7, false}, {"k1s2", {2, 0, 1}, 1, true},
};

class GoldenConv2d : public ::testing::TestWithParam<ConvCase> {};

TEST_P(GoldenConv2d, OutputAndGradientsMatchPyTorch) {
  const ConvCase& c = GetParam();
  const SafetensorsFile file = load_fixture("conv2d");
  const std::string p = std::string(c.name) + ".";
  std::ostringstream expected_meta;
  expected_meta << "kernel=" << c.kernel << " stride=" << c.params.stride
                << " padding=" << c.params.padding << " groups=" << c.params.groups
                << " bias=" << (c.bias ? 1 : 0);
  ASSERT_EQ(file.metadata.at(c.name), expected_meta.str()) << "fixture and test disagree";

  Tensor x = leaf(file, p + "x"), w = leaf(file, p + "weight");
  Tensor b = c.bias ? leaf(file, p + "bias") : Tensor();
  EXPECT_EQ(file.contains(p + "bias"), c.bias);
  Tensor y = ops::conv2d(x, w, b, c.params);
  EXPECT_MATCHES(y, file, p + "out", kRtol, kAtol);
  y.backward(file.at(p + "upstream"));
  EXPECT_MATCHES(x.grad(), file, p + "grad.x", kRtol, kAtol);
  EXPECT_MATCHES(w.grad(), file, p + "grad.weight", kRtol, kAtol);
  if (c.bias) EXPECT_MATCHES(b.grad(), file, p + "grad.bias", kRtol, kAtol);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenConv2d, ::testing::ValuesIn(kConvCases),
                         [](const ::testing::TestParamInfo<ConvCase>& info) {
                           return std::string(info.param.name);
                         });

// ---------------------------------------------------------------------------------------------
// batch_norm

ops::BatchNormParams bn_params(const SafetensorsFile& file, bool training) {
  ops::BatchNormParams params;
  params.training = training;
  params.momentum = std::stof(file.metadata.at("momentum"));
  params.eps = std::stof(file.metadata.at("eps"));
  return params;
}

TEST(GoldenBatchNorm, TrainModeOutputGradientsAndRunningStatistics) {
  const SafetensorsFile file = load_fixture("batch_norm");
  Tensor x = leaf(file, "train.x"), w = leaf(file, "train.weight"), b = leaf(file, "train.bias");
  Tensor running_mean = file.at("train.running_mean").clone();
  Tensor running_var = file.at("train.running_var").clone();
  Tensor y = ops::batch_norm(x, w, b, running_mean, running_var, bn_params(file, true));
  EXPECT_MATCHES(y, file, "train.out", kRtol, kAtol);
  EXPECT_MATCHES(running_mean, file, "train.running_mean_after", kRtol, kAtol);
  EXPECT_MATCHES(running_var, file, "train.running_var_after", kRtol, kAtol);
  y.backward(file.at("train.upstream"));
  EXPECT_MATCHES(x.grad(), file, "train.grad.x", kRtol, kAtol);
  EXPECT_MATCHES(w.grad(), file, "train.grad.weight", kRtol, kAtol);
  EXPECT_MATCHES(b.grad(), file, "train.grad.bias", kRtol, kAtol);
}

TEST(GoldenBatchNorm, EvalModeUsesRunningStatisticsAndLeavesThemAlone) {
  const SafetensorsFile file = load_fixture("batch_norm");
  Tensor x = leaf(file, "eval.x"), w = leaf(file, "eval.weight"), b = leaf(file, "eval.bias");
  Tensor running_mean = file.at("eval.running_mean").clone();
  Tensor running_var = file.at("eval.running_var").clone();
  Tensor y = ops::batch_norm(x, w, b, running_mean, running_var, bn_params(file, false));
  EXPECT_MATCHES(y, file, "eval.out", kRtol, kAtol);
  EXPECT_MATCHES(running_mean, file, "eval.running_mean", 0.0, 0.0);
  EXPECT_MATCHES(running_var, file, "eval.running_var", 0.0, 0.0);
  y.backward(file.at("eval.upstream"));
  EXPECT_MATCHES(x.grad(), file, "eval.grad.x", kRtol, kAtol);
  EXPECT_MATCHES(w.grad(), file, "eval.grad.weight", kRtol, kAtol);
  EXPECT_MATCHES(b.grad(), file, "eval.grad.bias", kRtol, kAtol);
}

// ---------------------------------------------------------------------------------------------
// pooling

struct PoolCase {
  const char* name;
  bool max;
  ops::Pool2dParams params;
};

std::ostream& operator<<(std::ostream& out, const PoolCase& c) { return out << c.name; }

const PoolCase kPoolCases[] = {
    {"max_k3s2p1", true, {3, 2, 1}},
    {"max_k3s2p1_even", true, {3, 2, 1}},
    {"avg_k3s2p1", false, {3, 2, 1}},
    {"avg_k2s2p0", false, {2, 2, 0}},
};

class GoldenPool2d : public ::testing::TestWithParam<PoolCase> {};

TEST_P(GoldenPool2d, OutputAndGradientMatchPyTorch) {
  const PoolCase& c = GetParam();
  const SafetensorsFile file = load_fixture("pool2d");
  const std::string p = std::string(c.name) + ".";
  std::ostringstream expected_meta;
  expected_meta << "kernel=" << c.params.kernel << " stride=" << c.params.stride
                << " padding=" << c.params.padding << (c.max ? "" : " count_include_pad=0");
  ASSERT_EQ(file.metadata.at(c.name), expected_meta.str()) << "fixture and test disagree";

  Tensor x = leaf(file, p + "x");
  Tensor y = c.max ? ops::max_pool2d(x, c.params) : ops::avg_pool2d(x, c.params);
  EXPECT_MATCHES(y, file, p + "out", kRtol, kAtol);
  y.backward(file.at(p + "upstream"));
  EXPECT_MATCHES(x.grad(), file, p + "grad.x", kRtol, kAtol);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenPool2d, ::testing::ValuesIn(kPoolCases),
                         [](const ::testing::TestParamInfo<PoolCase>& info) {
                           return std::string(info.param.name);
                         });

// ---------------------------------------------------------------------------------------------
// cross_entropy, linear

TEST(GoldenCrossEntropy, LossAndGradientWithAndWithoutLabelSmoothing) {
  const SafetensorsFile file = load_fixture("cross_entropy");
  for (const auto& [name, smoothing] : {std::pair<std::string, float>{"plain", 0.0f},
                                        std::pair<std::string, float>{"smooth", 0.1f}}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(file.metadata.at(name), "label_smoothing=" + std::string(smoothing ? "0.1" : "0.0"));
    Tensor logits = leaf(file, name + ".logits");
    const Tensor& targets = file.at(name + ".targets");
    ASSERT_EQ(targets.dtype(), DType::Int64);
    ops::CrossEntropyParams params;
    params.label_smoothing = smoothing;
    Tensor loss = ops::cross_entropy(logits, targets, params);
    EXPECT_MATCHES(loss, file, name + ".out", kRtol, kAtol);
    loss.backward();
    EXPECT_MATCHES(logits.grad(), file, name + ".grad.logits", kRtol, kAtol);
  }
}

TEST(GoldenLinear, OutputAndGradientsMatchPyTorch) {
  const SafetensorsFile file = load_fixture("linear");
  Tensor x = leaf(file, "case.x"), w = leaf(file, "case.weight"), b = leaf(file, "case.bias");
  Tensor y = ops::linear(x, w, b);
  EXPECT_MATCHES(y, file, "case.out", kRtol, kAtol);
  y.backward(file.at("case.upstream"));
  EXPECT_MATCHES(x.grad(), file, "case.grad.x", kRtol, kAtol);
  EXPECT_MATCHES(w.grad(), file, "case.grad.weight", kRtol, kAtol);
  EXPECT_MATCHES(b.grad(), file, "case.grad.bias", kRtol, kAtol);
}

// ---------------------------------------------------------------------------------------------
// Whole units (DESIGN.md section 3), composed from crunet::ops exactly as the script composes them
// from torch.nn.functional. BN in train mode; no running statistics are kept.

// The fixture's inputs and parameters as leaves: every tensor without a "grad." twin is skipped.
std::map<std::string, Tensor> unit_leaves(const SafetensorsFile& file) {
  std::map<std::string, Tensor> leaves;
  for (const auto& [name, tensor] : file.tensors) {
    if (file.contains("grad." + name)) leaves[name] = leaf(file, name);
  }
  return leaves;
}

Tensor bnac(const Tensor& x, const std::map<std::string, Tensor>& t, const std::string& bn) {
  ops::BatchNormParams params;
  params.training = true;
  return ops::relu(
      ops::batch_norm(x, t.at(bn + ".weight"), t.at(bn + ".bias"), Tensor(), Tensor(), params));
}

ops::Conv2dParams conv(std::int64_t stride, std::int64_t padding = 0, std::int64_t groups = 1) {
  ops::Conv2dParams params;
  params.stride = stride;
  params.padding = padding;
  params.groups = groups;
  return params;
}

// First residual unit of a stage: BNAC-conv1x1/s shortcut; body BNAC-conv1x1 -> BNAC-conv3x3/s,
// groups R -> BNAC-conv1x1; out = shortcut + body.
Tensor residual_unit_first(const std::map<std::string, Tensor>& t, const Tensor& x,
                           std::int64_t stride, std::int64_t groups) {
  const Tensor shortcut = ops::conv2d(bnac(x, t, "unit.shortcut.bn"),
                                      t.at("unit.shortcut.conv.weight"), Tensor(), conv(stride));
  Tensor y = ops::conv2d(bnac(x, t, "unit.a.bn"), t.at("unit.a.conv.weight"));
  y = ops::conv2d(bnac(y, t, "unit.b.bn"), t.at("unit.b.conv.weight"), Tensor(),
                  conv(stride, 1, groups));
  y = ops::conv2d(bnac(y, t, "unit.c.bn"), t.at("unit.c.conv.weight"));
  return ops::add(shortcut, y);
}

// The CRU body after data_o: BNAC_a-conv1x1 with the shared W1; the shared depthwise W3 with no
// BN or ReLU before it; BNAC-conv1x1 D->D; BNAC-conv1x1 D->bw.
Tensor cru_body(const std::map<std::string, Tensor>& t, const Tensor& data_o,
                const std::string& unit, std::int64_t stride) {
  const std::int64_t d = t.at("share.w3.weight").size(0);
  Tensor y = ops::conv2d(bnac(data_o, t, unit + ".a.bn"), t.at("share.w1.weight"));
  y = ops::conv2d(y, t.at("share.w3.weight"), Tensor(), conv(stride, 1, d));
  y = ops::conv2d(bnac(y, t, unit + ".c.bn"), t.at(unit + ".c.conv.weight"));
  return ops::conv2d(bnac(y, t, unit + ".d.bn"), t.at(unit + ".d.conv.weight"));
}

// First CRU of a stage (s > 1): the projection Wp used twice, after two BNs.
Tensor cru_unit_first(const std::map<std::string, Tensor>& t, const Tensor& x,
                      std::int64_t stride) {
  const Tensor& wp = t.at("unit1.proj.conv.weight");
  const Tensor data_o = ops::conv2d(bnac(x, t, "unit1.proj.bn1"), wp);
  const Tensor shortcut = ops::conv2d(bnac(x, t, "unit1.proj.bn2"), wp, Tensor(), conv(stride));
  return ops::add(shortcut, cru_body(t, data_o, "unit1", stride));
}

// Any later CRU of the group: data_o = shortcut = x.
Tensor cru_unit_next(const std::map<std::string, Tensor>& t, const Tensor& x,
                     const std::string& unit) {
  return ops::add(x, cru_body(t, x, unit, 1));
}

// Every gradient the fixture holds, against the leaf's accumulated gradient.
void expect_all_gradients(const SafetensorsFile& file, const std::map<std::string, Tensor>& leaves,
                          double rtol, double atol) {
  int checked = 0;
  for (const auto& [name, tensor] : file.tensors) {
    if (name.rfind("grad.", 0) != 0) continue;
    const std::string target = name.substr(5);
    ASSERT_TRUE(leaves.count(target)) << name;
    EXPECT_MATCHES(leaves.at(target).grad(), file, name, rtol, atol);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(leaves.size()));
}

TEST(GoldenResidualUnit, FirstUnitOfAStageStride2Groups4) {
  const SafetensorsFile file = load_fixture("residual_unit");
  ASSERT_EQ(file.metadata.at("stride"), "2");
  ASSERT_EQ(file.metadata.at("R"), "4");
  const std::map<std::string, Tensor> t = unit_leaves(file);
  ASSERT_EQ(t.size(), 13u);  // x and 4 x (BN weight, BN bias, conv weight)
  Tensor out = residual_unit_first(t, t.at("x"), 2, 4);
  EXPECT_MATCHES(out, file, "out", kRtol, kAtol);
  out.backward(file.at("upstream"));
  expect_all_gradients(file, t, kRtol, kAtol);
}

TEST(GoldenCruUnit, TwoUnitsOfAShareGroupSumTheSharedGradients) {
  const SafetensorsFile file = load_fixture("cru_unit");
  ASSERT_EQ(file.metadata.at("stride"), "2");
  const std::map<std::string, Tensor> t = unit_leaves(file);
  ASSERT_EQ(t.size(), 24u);  // x, W1, W3, Wp, 2 proj BNs, 2 units x (3 BNs, 2 convs)
  const Tensor out1 = cru_unit_first(t, t.at("x"), 2);
  EXPECT_MATCHES(out1, file, "unit1.out", kRtol, kAtol);
  Tensor out = cru_unit_next(t, out1, "unit2");
  EXPECT_MATCHES(out, file, "out", kRtol, kAtol);
  out.backward(file.at("upstream"));
  expect_all_gradients(file, t, kRtol, kAtol);
}

TEST(GoldenFixtures, NameTheirGenerator) {
  for (const char* name :
       {"conv2d", "batch_norm", "pool2d", "cross_entropy", "linear", "residual_unit", "cru_unit"}) {
    const SafetensorsFile file = load_fixture(name);
    EXPECT_EQ(file.metadata.at("generator"), "tools/make_fixtures.py") << name;
    for (const auto& [tensor_name, tensor] : file.tensors) {
      EXPECT_TRUE(tensor.dtype() == DType::Float32 || tensor.dtype() == DType::Int64)
          << name << ": " << tensor_name;
    }
  }
}

}  // namespace
}  // namespace crunet
