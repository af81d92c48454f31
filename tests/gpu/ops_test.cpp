// Every CUDA op against the CPU op on fresh random inputs, forward and backward (STYLE.md habit
// 5). fp32 tolerances: 1e-4 relative; cuBLAS and cuDNN run in plain float32 (no TF32), so only
// the order of the additions differs from the CPU.
#include "crunet/ops.h"
#include "gpu_test.h"
#include "support/gradcheck.h"
#include "support/inputs.h"

namespace crunet {
namespace {

using testing::expect_cuda_matches_cpu;
using testing::Tolerance;

// Sums over hundreds of products (convolution, matrix products, batch statistics).
const Tolerance kReduction{1e-4, 1e-4};

TEST(CudaOps, Relu) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const Shape& shape : {Shape{1}, Shape{3, 5, 7}, Shape{2, 16, 33, 33}}) {
    expect_cuda_matches_cpu([](const std::vector<Tensor>& t) { return ops::relu(t[0]); },
                            {testing::away_from_zero(shape, 1).requires_grad(true)});
  }
}

TEST(CudaOps, ReluOnBFloat16) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor x = randn({4, 9}, 2).to(DType::BFloat16);
  const Tensor y = ops::relu(x.to(Device::cuda(0)));
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  std::vector<float> expected = x.to_vector();
  for (float& v : expected) v = v > 0.0f ? v : 0.0f;
  EXPECT_EQ(y.to_vector(), expected);
}

TEST(CudaOps, Add) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const Shape& shape : {Shape{5}, Shape{2, 64, 9, 9}}) {
    expect_cuda_matches_cpu(
        [](const std::vector<Tensor>& t) { return ops::add(t[0], t[1]); },
        {randn(shape, 3).requires_grad(true), randn(shape, 4).requires_grad(true)});
  }
}

TEST(CudaOps, AddOfATensorToItselfSumsBothGradients) {
  CRUNET_SKIP_WITHOUT_GPU();
  expect_cuda_matches_cpu([](const std::vector<Tensor>& t) { return ops::add(t[0], t[0]); },
                          {randn({3, 4}, 5).requires_grad(true)});
}

TEST(CudaOps, GlobalAvgPool) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const Shape& shape : {Shape{2, 3, 7, 7}, Shape{3, 5, 1, 1}, Shape{2, 70, 13, 11}}) {
    expect_cuda_matches_cpu(
        [](const std::vector<Tensor>& t) { return ops::global_avg_pool(t[0]); },
        {randn(shape, 6).requires_grad(true)});
  }
}

TEST(CudaOps, Linear) {
  CRUNET_SKIP_WITHOUT_GPU();
  struct Case {
    std::int64_t n, in, out;
    bool bias;
  };
  for (const Case& c : {Case{5, 7, 3, true}, Case{1, 1, 1, true}, Case{4, 9, 6, false},
                        Case{64, 512, 1000, true}, Case{33, 65, 17, true}}) {
    std::vector<Tensor> inputs = {randn({c.n, c.in}, 7).requires_grad(true),
                                  randn({c.out, c.in}, 8).requires_grad(true),
                                  c.bias ? randn({c.out}, 9).requires_grad(true) : Tensor()};
    expect_cuda_matches_cpu(
        [](const std::vector<Tensor>& t) { return ops::linear(t[0], t[1], t[2]); }, inputs,
        kReduction, kReduction);
  }
}

TEST(CudaOps, CrossEntropy) {
  CRUNET_SKIP_WITHOUT_GPU();
  struct Case {
    std::int64_t n, classes;
    float smoothing;
  };
  for (const Case& c : {Case{7, 10, 0.0f}, Case{7, 10, 0.1f}, Case{5, 1000, 0.1f},
                        Case{300, 3, 0.0f}, Case{1, 1, 0.0f}}) {
    std::vector<std::int64_t> targets(static_cast<std::size_t>(c.n));
    for (std::int64_t i = 0; i < c.n; ++i) targets[static_cast<std::size_t>(i)] = (i * 7) % c.classes;
    const Tensor logits = randn({c.n, c.classes}, 10).requires_grad(true);
    const Tensor t = from_int64_vector(targets, {c.n});
    const float smoothing = c.smoothing;
    expect_cuda_matches_cpu(
        [smoothing](const std::vector<Tensor>& in) {
          return ops::cross_entropy(in[0], in[1], {smoothing});
        },
        {logits, t}, kReduction, kReduction);
  }
}

TEST(CudaOps, CrossEntropyRejectsATargetOutOfRange) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor logits = randn({4, 5}, 11, TensorOptions(Device::cuda(0)));
  const Tensor targets = from_int64_vector({0, 4, 5, 1}, {4}, Device::cuda(0));
  try {
    ops::cross_entropy(logits, targets);
    FAIL() << "target 5 of 5 classes was accepted";
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("target 5 at index 2"), std::string::npos) << message;
  }
}

struct ConvCase {
  Shape x;
  std::int64_t out, kernel;
  ops::Conv2dParams params;
  bool bias;
};

TEST(CudaOps, Conv2d) {
  CRUNET_SKIP_WITHOUT_GPU();
  const std::vector<ConvCase> cases = {
      {{2, 3, 21, 21}, 8, 7, {2, 3, 1}, false},     // the ImageNet stem, small
      {{2, 16, 9, 9}, 24, 1, {1, 0, 1}, true},      // 1x1 with a bias
      {{3, 8, 10, 7}, 8, 3, {2, 1, 1}, false},      // odd sizes, stride 2
      {{2, 64, 9, 9}, 64, 3, {1, 1, 32}, false},    // ResNeXt: 32 groups of 2
      {{2, 16, 11, 11}, 16, 3, {2, 1, 16}, false},  // depthwise, stride 2 (the CRU's W3)
      {{1, 16, 8, 8}, 16, 3, {1, 1, 16}, true},     // depthwise, stride 1, bias
  };
  std::uint64_t seed = 20;
  for (const ConvCase& c : cases) {
    const std::int64_t in_per_group = c.x[1] / c.params.groups;
    std::vector<Tensor> inputs = {
        randn(c.x, seed++).requires_grad(true),
        randn({c.out, in_per_group, c.kernel, c.kernel}, seed++).requires_grad(true),
        c.bias ? randn({c.out}, seed++).requires_grad(true) : Tensor()};
    const ops::Conv2dParams params = c.params;
    SCOPED_TRACE(shape_str(c.x) + " groups " + std::to_string(params.groups) + " stride " +
                 std::to_string(params.stride));
    expect_cuda_matches_cpu(
        [params](const std::vector<Tensor>& t) { return ops::conv2d(t[0], t[1], t[2], params); },
        inputs, kReduction, Tolerance{1e-4, 5e-4});
  }
}

TEST(CudaOps, Conv2dReusesTheChosenAlgorithm) {
  CRUNET_SKIP_WITHOUT_GPU();
  // The second call of a shape takes the cached algorithm; the result must not change.
  const Tensor x = randn({2, 8, 12, 12}, 30, TensorOptions(Device::cuda(0)));
  const Tensor w = randn({8, 8, 3, 3}, 31, TensorOptions(Device::cuda(0)));
  const Tensor first = ops::conv2d(x, w, Tensor(), {1, 1, 1});
  const Tensor second = ops::conv2d(x, w, Tensor(), {1, 1, 1});
  EXPECT_EQ(first.to_vector(), second.to_vector());
}

TEST(CudaOps, BatchNormTraining) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const Shape& shape : {Shape{4, 3, 5, 5}, Shape{2, 16, 7, 9}, Shape{8, 5, 1, 1}}) {
    const std::int64_t c = shape[1];
    const Tensor mean0 = randn({c}, 40), var0 = rand_uniform({c}, 0.5, 2.0, 41);
    Tensor cpu_mean = mean0.clone(), cpu_var = var0.clone();
    Tensor gpu_mean = mean0.to(Device::cuda(0)), gpu_var = var0.to(Device::cuda(0));
    int call = 0;
    // The first call (on the CPU) updates the CPU statistics, the second the GPU ones.
    expect_cuda_matches_cpu(
        [&](const std::vector<Tensor>& t) {
          const bool cpu = call++ == 0;
          return ops::batch_norm(t[0], t[1], t[2], cpu ? cpu_mean : gpu_mean,
                                 cpu ? cpu_var : gpu_var, {true, 0.1f, 1e-5f});
        },
        {randn(shape, 42).requires_grad(true), randn({c}, 43).requires_grad(true),
         randn({c}, 44).requires_grad(true)},
        kReduction, Tolerance{1e-3, 1e-4});
    EXPECT_TRUE(testing::all_close(gpu_mean, cpu_mean, 1e-4, 1e-5)) << "running mean";
    EXPECT_TRUE(testing::all_close(gpu_var, cpu_var, 1e-4, 1e-5)) << "running var (unbiased)";
  }
}

TEST(CudaOps, BatchNormTrainingWithoutAffineOrRunningStatistics) {
  CRUNET_SKIP_WITHOUT_GPU();
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& t) {
        return ops::batch_norm(t[0], Tensor(), Tensor(), Tensor(), Tensor(), {true, 0.1f, 1e-3f});
      },
      {randn({3, 4, 6, 6}, 45).requires_grad(true)}, kReduction, Tolerance{1e-3, 1e-4});
}

TEST(CudaOps, BatchNormTrainingBiasGradientAlone) {
  CRUNET_SKIP_WITHOUT_GPU();
  // x and the weight constant: the backward is asked for the bias's gradient only.
  expect_cuda_matches_cpu(
      [](const std::vector<Tensor>& t) {
        return ops::batch_norm(t[0], t[1], t[2], Tensor(), Tensor(), {true, 0.1f, 1e-5f});
      },
      {randn({2, 6, 5, 5}, 46), randn({6}, 47), randn({6}, 48).requires_grad(true)}, kReduction,
      kReduction);
}

TEST(CudaOps, BatchNormEvaluation) {
  CRUNET_SKIP_WITHOUT_GPU();
  const std::int64_t c = 12;
  const Tensor mean = randn({c}, 50), var = rand_uniform({c}, 0.5, 2.0, 51);
  const Tensor gpu_mean = mean.to(Device::cuda(0)), gpu_var = var.to(Device::cuda(0));
  int call = 0;
  expect_cuda_matches_cpu(
      [&](const std::vector<Tensor>& t) {
        const bool cpu = call++ == 0;
        return ops::batch_norm(t[0], t[1], t[2], cpu ? mean : gpu_mean, cpu ? var : gpu_var,
                               {false, 0.1f, 1e-5f});
      },
      {randn({3, c, 7, 5}, 52).requires_grad(true), randn({c}, 53).requires_grad(true),
       randn({c}, 54).requires_grad(true)},
      kReduction, kReduction);
  EXPECT_EQ(gpu_mean.to_vector(), mean.to_vector()) << "evaluation must not touch the statistics";
  EXPECT_EQ(gpu_var.to_vector(), var.to_vector());
}

TEST(CudaOps, MaxPool2d) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const ops::Pool2dParams& p : {ops::Pool2dParams{3, 2, 1}, ops::Pool2dParams{2, 2, 0},
                                     ops::Pool2dParams{3, 1, 1}}) {
    for (const Shape& shape : {Shape{2, 3, 9, 9}, Shape{1, 4, 8, 11}}) {
      SCOPED_TRACE(shape_str(shape) + " kernel " + std::to_string(p.kernel));
      // Distinct values: no ties, so the argmax (and the gradient's route) is the same on both.
      expect_cuda_matches_cpu(
          [p](const std::vector<Tensor>& t) { return ops::max_pool2d(t[0], p); },
          {testing::distinct_values(shape, 60).requires_grad(true)});
    }
  }
}

TEST(CudaOps, MaxPool2dWithoutGradient) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor x = testing::distinct_values({2, 3, 9, 9}, 61);
  const Tensor y = ops::max_pool2d(x.to(Device::cuda(0)), {3, 2, 1});
  EXPECT_TRUE(testing::all_close(y, ops::max_pool2d(x, {3, 2, 1})));
}

TEST(CudaOps, AvgPool2dExcludesPadding) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (const ops::Pool2dParams& p : {ops::Pool2dParams{3, 1, 1}, ops::Pool2dParams{2, 2, 0},
                                     ops::Pool2dParams{3, 2, 1}}) {
    SCOPED_TRACE("kernel " + std::to_string(p.kernel) + " stride " + std::to_string(p.stride));
    expect_cuda_matches_cpu(
        [p](const std::vector<Tensor>& t) { return ops::avg_pool2d(t[0], p); },
        {randn({2, 5, 9, 10}, 62).requires_grad(true)});
  }
}

TEST(CudaOps, UnsupportedDtypeNamesOpDtypeAndDevice) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor x = randn({2, 3, 5, 5}, 63).to(DType::Float16).to(Device::cuda(0));
  try {
    ops::global_avg_pool(x);
    FAIL() << "float16 was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("global_avg_pool"), std::string::npos) << message;
    EXPECT_NE(message.find("float16"), std::string::npos) << message;
    EXPECT_NE(message.find("cuda:0"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace crunet
