// The precision modes on the GPU. bf16: every op of the bfloat16 path against the CPU's float32 op
// on the same (bfloat16-representable) inputs, forward and backward; the cast against the CPU
// cast bit for bit; autocast's layers; short training runs whose loss falls. tf32: a run that
// agrees with fp32.
//
// Tolerances, and why:
//   relu, max pool forward, cast: exact - they select or convert values, and every input and
//     upstream gradient is a bfloat16 value, so the float32 reference computes the same numbers.
//   add, max pool backward (overlapping windows sum their gradients): one rounding of a float32
//     sum to bfloat16, at most 2^-9 relative: rtol 4e-3.
//   global and window averages, batch norm: float32 sums in another order, then one rounding to
//     bfloat16 (relative 2^-9 = 0.002): rtol 1e-2, atol 1e-2 on values of order one. Batch norm's
//     grad_x (a difference of three terms of order one): rtol 2e-2, atol 2e-2. Its float32
//     outputs (running statistics, weight and bias gradients) are not rounded: rtol 1e-3.
//   cross-entropy on bfloat16 logits: computed in float32, so the loss as fp32 (rtol 1e-4); its
//     bfloat16 gradient one rounding away (rtol 1e-2, atol 1e-4).
//   convolution layers in bf16 (the other half's kernels, through autocast): bfloat16 inputs
//     rounded at 2^-9, sums in float32: norm-wise relative difference below 2e-2.
//   training: the bf16 run's first loss within 2% of the fp32 run's (the same weights, rounded),
//     and its loss falls as the fp32 one does. tf32 (10-bit mantissa products): within 1% of fp32
//     at the first step, 5% after 30 steps of drift.
#include <cmath>
#include <cstring>

#include "crunet/core/elementwise.h"
#include "crunet/ops.h"
#include "gpu_test.h"
#include "support/gradcheck.h"
#include "support/inputs.h"

namespace crunet {
namespace {

using testing::all_close;
using testing::Tolerance;

const Device kGpu = Device::cuda(0);
const Tolerance kExact{0.0, 0.0};
const Tolerance kRounded{4e-3, 1e-6};
const Tolerance kAveraged{1e-2, 1e-2};
const Tolerance kFloat32Sums{1e-3, 1e-4};

// The bfloat16 value of each element, kept as float32: an input both devices see identically.
Tensor bfloat16_values(const Tensor& t) { return t.to(DType::BFloat16).to(DType::Float32); }

Tensor leaf(Tensor t, bool requires_grad) {
  Tensor detached = t.detach();
  if (requires_grad) detached.requires_grad(true);
  return detached;
}

struct Input {
  Tensor values;       // float32 on the CPU (bfloat16-representable where as_bfloat16)
  bool as_bfloat16;    // on the GPU: bfloat16 (an activation) or float32 (a parameter)
  bool requires_grad;
};

// f on the CPU in float32 and on the GPU with the bfloat16 inputs; the outputs and the input
// gradients must agree. The GPU output must be `output_dtype`; each GPU gradient comes in its
// input's dtype.
void expect_bfloat16_matches_cpu(const testing::OpFunction& f, const std::vector<Input>& inputs,
                                 DType output_dtype, Tolerance forward,
                                 const std::vector<Tolerance>& backward) {
  std::vector<Tensor> on_cpu, on_gpu;
  for (const Input& in : inputs) {
    const Tensor cpu = in.as_bfloat16 ? bfloat16_values(in.values) : in.values;
    on_cpu.push_back(leaf(cpu.clone(), in.requires_grad));
    const Tensor gpu = in.as_bfloat16 ? cpu.to(DType::BFloat16).to(kGpu) : cpu.to(kGpu);
    on_gpu.push_back(leaf(gpu, in.requires_grad));
  }
  const Tensor y_cpu = f(on_cpu);
  const Tensor y_gpu = f(on_gpu);
  ASSERT_EQ(y_gpu.device(), kGpu);
  ASSERT_EQ(y_gpu.dtype(), output_dtype);
  EXPECT_TRUE(all_close(y_gpu, y_cpu, forward.rtol, forward.atol)) << "forward";
  if (!y_cpu.requires_grad()) return;

  const Tensor upstream = bfloat16_values(randn(y_cpu.shape(), 777));
  y_cpu.backward(upstream);
  y_gpu.backward(upstream.to(output_dtype).to(kGpu));
  std::size_t checked = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad) continue;
    const Tolerance tolerance = backward.at(checked++);
    ASSERT_TRUE(on_gpu[i].grad().defined()) << "input " << i << " has no gradient on the GPU";
    EXPECT_EQ(on_gpu[i].grad().dtype(), on_gpu[i].dtype()) << "input " << i;
    EXPECT_TRUE(all_close(on_gpu[i].grad(), on_cpu[i].grad(), tolerance.rtol, tolerance.atol))
        << "gradient of input " << i;
  }
}

// Values distinct within each H x W plane and exact in bfloat16 (multiples of 1/16 below 16):
// no ties in any pooling window, on either device.
Tensor distinct_per_plane(const Shape& shape, std::uint64_t seed) {
  const std::int64_t area = shape[2] * shape[3];
  EXPECT_LE(area, 256);
  Tensor t = empty(shape);
  float* values = t.data<float>();
  Generator generator(seed);
  for (std::int64_t p = 0; p < shape[0] * shape[1]; ++p) {
    std::vector<float> plane(static_cast<std::size_t>(area));
    for (std::int64_t i = 0; i < area; ++i) plane[static_cast<std::size_t>(i)] = (i - area / 2) / 16.0f;
    for (std::int64_t i = area - 1; i > 0; --i) {
      std::swap(plane[static_cast<std::size_t>(i)],
                plane[static_cast<std::size_t>(generator.below(static_cast<std::uint64_t>(i + 1)))]);
    }
    std::copy(plane.begin(), plane.end(), values + p * area);
  }
  return t;
}

std::uint32_t bits_of(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

TEST(CudaBFloat16, CastMatchesTheCpuBitForBit) {
  CRUNET_SKIP_WITHOUT_GPU();
  std::vector<float> values = randn({4099}, 1).to_vector();
  for (std::uint32_t bits : {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u,
                             0x7fc00000u, 0x7f800001u, 0x00018000u, 0x80000000u}) {
    float v;
    std::memcpy(&v, &bits, sizeof v);
    values.push_back(v);
  }
  const Tensor x = from_vector(values, {static_cast<std::int64_t>(values.size())});
  const Tensor cpu = ops::cast(x, DType::BFloat16);
  const Tensor gpu = ops::cast(x.to(kGpu), DType::BFloat16);
  ASSERT_EQ(gpu.dtype(), DType::BFloat16);
  const std::vector<float> a = gpu.to_vector(), b = cpu.to_vector();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(b[i])) {
      EXPECT_TRUE(std::isnan(a[i])) << i;
    } else {
      EXPECT_EQ(bits_of(a[i]), bits_of(b[i])) << i << ": " << values[i];
    }
  }
  // And back: bfloat16 -> float32 is exact, -> bfloat16 again the identity.
  const Tensor up = ops::cast(gpu, DType::Float32);
  EXPECT_EQ(up.dtype(), DType::Float32);
  const Tensor again = ops::cast(up, DType::BFloat16);
  const std::vector<float> c = again.to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isnan(a[i])) EXPECT_EQ(bits_of(c[i]), bits_of(a[i])) << i;
  }
}

TEST(CudaBFloat16, CastGradientReachesTheFloat32Master) {
  CRUNET_SKIP_WITHOUT_GPU();
  expect_bfloat16_matches_cpu(
      [](const std::vector<Tensor>& t) { return ops::cast(t[0], DType::BFloat16); },
      {{randn({3, 17}, 2), false, true}}, DType::BFloat16, kExact, {kExact});
}

TEST(CudaBFloat16, Relu) {
  CRUNET_SKIP_WITHOUT_GPU();
  expect_bfloat16_matches_cpu([](const std::vector<Tensor>& t) { return ops::relu(t[0]); },
                              {{testing::away_from_zero({2, 16, 9, 9}, 3), true, true}},
                              DType::BFloat16, kExact, {kExact});
}

TEST(CudaBFloat16, Add) {
  CRUNET_SKIP_WITHOUT_GPU();
  expect_bfloat16_matches_cpu([](const std::vector<Tensor>& t) { return ops::add(t[0], t[1]); },
                              {{randn({2, 64, 9, 9}, 4), true, true},
                               {randn({2, 64, 9, 9}, 5), true, true}},
                              DType::BFloat16, kRounded, {kExact, kExact});
}

TEST(CudaBFloat16, GlobalAvgPool) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const Shape& shape : {Shape{2, 3, 7, 7}, Shape{2, 70, 13, 11}}) {
    expect_bfloat16_matches_cpu(
        [](const std::vector<Tensor>& t) { return ops::global_avg_pool(t[0]); },
        {{randn(shape, 6), true, true}}, DType::BFloat16, kAveraged, {kAveraged});
  }
}

TEST(CudaBFloat16, MaxPool2d) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const ops::Pool2dParams& p : {ops::Pool2dParams{3, 2, 1}, ops::Pool2dParams{2, 2, 0},
                                     ops::Pool2dParams{3, 1, 1}}) {
    for (const Shape& shape : {Shape{2, 3, 9, 9}, Shape{1, 4, 8, 11}}) {
      SCOPED_TRACE(shape_str(shape) + " kernel " + std::to_string(p.kernel));
      expect_bfloat16_matches_cpu(
          [p](const std::vector<Tensor>& t) { return ops::max_pool2d(t[0], p); },
          {{distinct_per_plane(shape, 7), true, true}}, DType::BFloat16, kExact, {kRounded});
    }
  }
}

TEST(CudaBFloat16, MaxPool2dPropagatesNaN) {
  CRUNET_SKIP_WITHOUT_GPU();
  Tensor x = distinct_per_plane({1, 1, 4, 4}, 8);
  x.data<float>()[5] = std::nanf("");
  const Tensor y = ops::max_pool2d(x.to(DType::BFloat16).to(kGpu), {2, 2, 0});
  const std::vector<float> values = y.to_vector();
  EXPECT_TRUE(std::isnan(values[0])) << "the window holding the NaN";
  EXPECT_FALSE(std::isnan(values[3]));
}

TEST(CudaBFloat16, AvgPool2dExcludesPadding) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const ops::Pool2dParams& p : {ops::Pool2dParams{3, 1, 1}, ops::Pool2dParams{2, 2, 0},
                                     ops::Pool2dParams{3, 2, 1}}) {
    SCOPED_TRACE("kernel " + std::to_string(p.kernel) + " stride " + std::to_string(p.stride));
    expect_bfloat16_matches_cpu(
        [p](const std::vector<Tensor>& t) { return ops::avg_pool2d(t[0], p); },
        {{randn({2, 5, 9, 10}, 9), true, true}}, DType::BFloat16, kAveraged, {kAveraged});
  }
}

TEST(CudaBFloat16, BatchNormTrainingKeepsFloat32ParametersAndStatistics) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const Shape& shape : {Shape{4, 3, 5, 5}, Shape{2, 16, 7, 9}, Shape{8, 5, 1, 1}}) {
    SCOPED_TRACE(shape_str(shape));
    const std::int64_t c = shape[1];
    const Tensor mean0 = randn({c}, 10), var0 = rand_uniform({c}, 0.5, 2.0, 11);
    Tensor cpu_mean = mean0.clone(), cpu_var = var0.clone();
    Tensor gpu_mean = mean0.to(kGpu), gpu_var = var0.to(kGpu);
    int call = 0;
    // Inputs with a mean far from zero: the two-pass variance must not cancel.
    Tensor x = randn(shape, 12);
    add_inplace(x, full(shape, 3.0), 1.0f);
    expect_bfloat16_matches_cpu(
        [&](const std::vector<Tensor>& t) {
          const bool cpu = call++ == 0;
          return ops::batch_norm(t[0], t[1], t[2], cpu ? cpu_mean : gpu_mean,
                                 cpu ? cpu_var : gpu_var, {true, 0.1f, 1e-5f});
        },
        {{x, true, true}, {randn({c}, 13), false, true}, {randn({c}, 14), false, true}},
        DType::BFloat16, kAveraged, {Tolerance{2e-2, 2e-2}, kFloat32Sums, kFloat32Sums});
    EXPECT_EQ(gpu_mean.dtype(), DType::Float32);
    EXPECT_TRUE(all_close(gpu_mean, cpu_mean, 1e-4, 1e-5)) << "running mean";
    EXPECT_TRUE(all_close(gpu_var, cpu_var, 1e-4, 1e-5)) << "running var (unbiased)";
  }
}

TEST(CudaBFloat16, BatchNormTrainingWithoutAffineAndBiasGradientAlone) {
  CRUNET_SKIP_WITHOUT_GPU();
  expect_bfloat16_matches_cpu(
      [](const std::vector<Tensor>& t) {
        return ops::batch_norm(t[0], Tensor(), Tensor(), Tensor(), Tensor(), {true, 0.1f, 1e-3f});
      },
      {{randn({3, 4, 6, 6}, 15), true, true}}, DType::BFloat16, kAveraged,
      {Tolerance{2e-2, 2e-2}});
  expect_bfloat16_matches_cpu(
      [](const std::vector<Tensor>& t) {
        return ops::batch_norm(t[0], t[1], t[2], Tensor(), Tensor(), {true, 0.1f, 1e-5f});
      },
      {{randn({2, 6, 5, 5}, 16), true, false}, {randn({6}, 17), false, false},
       {randn({6}, 18), false, true}},
      DType::BFloat16, kAveraged, {kFloat32Sums});
}

TEST(CudaBFloat16, BatchNormEvaluation) {
  CRUNET_SKIP_WITHOUT_GPU();
  const std::int64_t c = 12;
  const Tensor mean = randn({c}, 19), var = rand_uniform({c}, 0.5, 2.0, 20);
  const Tensor gpu_mean = mean.to(kGpu), gpu_var = var.to(kGpu);
  int call = 0;
  expect_bfloat16_matches_cpu(
      [&](const std::vector<Tensor>& t) {
        const bool cpu = call++ == 0;
        return ops::batch_norm(t[0], t[1], t[2], cpu ? mean : gpu_mean, cpu ? var : gpu_var,
                               {false, 0.1f, 1e-5f});
      },
      {{randn({3, c, 7, 5}, 21), true, true}, {randn({c}, 22), false, true},
       {randn({c}, 23), false, true}},
      DType::BFloat16, kAveraged, {kAveraged, kFloat32Sums, kFloat32Sums});
  EXPECT_EQ(gpu_mean.to_vector(), mean.to_vector()) << "evaluation must not touch the statistics";
  EXPECT_EQ(gpu_var.to_vector(), var.to_vector());
}

TEST(CudaBFloat16, BatchNormRefusesBFloat16Parameters) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor x = randn({2, 3, 4, 4}, 24).to(DType::BFloat16).to(kGpu);
  const Tensor w = ones({3}, TensorOptions(DType::BFloat16, kGpu));
  EXPECT_THROW(ops::batch_norm(x, w, Tensor(), Tensor(), Tensor()), NotImplementedError);
}

TEST(CudaBFloat16, CrossEntropyComputesInFloat32) {
  CRUNET_SKIP_WITHOUT_GPU();
  std::vector<std::int64_t> targets(7);
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<std::int64_t>(i * 3 % 10);
  const Tensor t_cpu = from_int64_vector(targets, {7});
  const Tensor t_gpu = t_cpu.to(kGpu);
  int call = 0;
  expect_bfloat16_matches_cpu(
      [&](const std::vector<Tensor>& in) {
        return ops::cross_entropy(in[0], call++ == 0 ? t_cpu : t_gpu, {0.1f});
      },
      {{randn({7, 10}, 25), true, true}}, DType::Float32, Tolerance{1e-4, 1e-5},
      {Tolerance{1e-2, 1e-4}});
}

// A float32 module and its bfloat16 run under autocast, on the GPU: outputs and the float32
// weight gradient close in norm.
TEST(CudaAutocast, Conv2dCastsXAndTheMasterWeight) {
  CRUNET_SKIP_WITHOUT_GPU();
  manual_seed(26);
  nn::Conv2d conv(16, 24, 3, {1, 1, 1});
  conv.to(kGpu);
  const Tensor x = randn({2, 16, 9, 9}, 27, TensorOptions(kGpu));
  const Tensor y32 = conv.forward(x);
  y32.backward(ones(y32.shape(), TensorOptions(kGpu)));
  const Tensor grad32 = conv.weight().grad().clone();
  conv.zero_grad();
  Tensor y16;
  {
    nn::AutocastGuard guard(DType::BFloat16);
    y16 = conv.forward(x);
  }
  EXPECT_EQ(y16.dtype(), DType::BFloat16);
  y16.backward(ones(y16.shape(), TensorOptions(DType::BFloat16, kGpu)));
  ASSERT_TRUE(conv.weight().grad().defined());
  EXPECT_EQ(conv.weight().grad().dtype(), DType::Float32) << "the master's gradient is float32";
  EXPECT_LT(testing::relative_difference(y16.to_vector(), y32.to_vector()), 2e-2);
  EXPECT_LT(testing::relative_difference(conv.weight().grad().to_vector(), grad32.to_vector()),
            2e-2);
}

// A small CRU-Net and ResNeXt (every unit kind, shared factors) in one bf16 step against fp32.
TEST(CudaAutocast, SmallNetworksTrainStepAgreesWithFloat32) {
  CRUNET_SKIP_WITHOUT_GPU();
  const char* spec_text = R"(name: tiny
input: {channels: 3, size: 16}
classes: 10
stem: {type: small, width: 16, stride: 1}
stages:
  - {unit: res, units: 1, width: 32, bottleneck: 16, groups: 4, stride: 1}
  - {unit: cru, units: 2, width: 64, bottleneck: 32, share: 2, stride: 2}
)";
  const Tensor images = randn({8, 3, 16, 16}, 28, TensorOptions(kGpu));
  std::vector<std::int64_t> label_values(8);
  for (std::size_t i = 0; i < 8; ++i) label_values[i] = static_cast<std::int64_t>(i);
  const Tensor labels = from_int64_vector(label_values, {8}, kGpu);
  manual_seed(29);
  auto model = models::build(models::parse_model_spec(spec_text));
  model->to(kGpu);
  const Tensor loss32 = ops::cross_entropy(model->forward(images), labels);
  loss32.backward();
  std::vector<std::vector<float>> grads32;
  for (const Tensor& p : model->parameters()) grads32.push_back(p.grad().to_vector());
  model->zero_grad();
  Tensor loss16;
  {
    nn::AutocastGuard guard(DType::BFloat16);
    const Tensor logits = model->forward(images);
    EXPECT_EQ(logits.dtype(), DType::Float32) << "the classifier runs in float32";
    loss16 = ops::cross_entropy(logits, labels);
  }
  loss16.backward();
  EXPECT_NEAR(loss16.item(), loss32.item(), 2e-2 * loss32.item());
  const std::vector<Tensor> parameters = model->parameters();
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    ASSERT_TRUE(parameters[i].grad().defined()) << "parameter " << i;
    EXPECT_EQ(parameters[i].grad().dtype(), DType::Float32) << "parameter " << i;
    EXPECT_LT(testing::relative_difference(parameters[i].grad().to_vector(), grads32[i]), 0.1)
        << "parameter " << i;
  }
}

// The tiny network of training_test.cpp, as modules, trained by SGD on one device in a precision.
std::vector<float> train_tiny(train::Precision precision, int steps) {
  manual_seed(30);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(3, 8, 3, ops::Conv2dParams{1, 1, 1}));
  net->push_back(std::make_shared<nn::BatchNorm2d>(8));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::MaxPool2d>(ops::Pool2dParams{3, 2, 1}));
  net->push_back(std::make_shared<nn::GlobalAvgPool>());
  net->push_back(std::make_shared<nn::Linear>(8, 4));
  net->to(kGpu);
  optim::SGD sgd(net->named_parameters(), optim::SGDOptions{0.2, 0.0, false, 0.0, optim::WeightDecayScope::Weights});
  const Tensor images = randn({16, 3, 8, 8}, 31).to(kGpu);
  std::vector<std::int64_t> labels(16);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 4);
  const Tensor targets = from_int64_vector(labels, {16}, kGpu);
  std::vector<float> losses;
  for (int step = 0; step < steps; ++step) {
    train::PrecisionScope scope(precision);
    const Tensor loss = ops::cross_entropy(net->forward(images), targets);
    loss.backward();
    losses.push_back(loss.item());
    sgd.step();
    sgd.zero_grad();
  }
  for (const Tensor& p : net->parameters()) EXPECT_EQ(p.dtype(), DType::Float32);
  return losses;
}

TEST(CudaPrecisionTraining, Bf16LossFallsLikeFp32) {
  CRUNET_SKIP_WITHOUT_GPU();
  const std::vector<float> fp32 = train_tiny(train::Precision::kFp32, 30);
  const std::vector<float> bf16 = train_tiny(train::Precision::kBf16, 30);
  EXPECT_NEAR(bf16.front(), fp32.front(), 2e-2f * fp32.front());
  EXPECT_LT(bf16.back(), 0.7f * bf16.front()) << "loss went from " << bf16.front() << " to "
                                              << bf16.back();
  EXPECT_LT(bf16.back(), std::log(4.0f));
  for (float loss : bf16) EXPECT_TRUE(std::isfinite(loss));
}

TEST(CudaPrecisionTraining, Tf32AgreesWithFp32) {
  CRUNET_SKIP_WITHOUT_GPU();
  const std::vector<float> fp32 = train_tiny(train::Precision::kFp32, 30);
  const std::vector<float> tf32 = train_tiny(train::Precision::kTf32, 30);
  EXPECT_NEAR(tf32.front(), fp32.front(), 1e-2f * fp32.front());
  EXPECT_NEAR(tf32.back(), fp32.back(), 5e-2f * fp32.back());
  EXPECT_LT(tf32.back(), 0.7f * tf32.front());
}

}  // namespace
}  // namespace crunet
