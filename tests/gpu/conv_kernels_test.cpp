// The custom depthwise and small-group convolution kernels (kernels/conv2d.cuh), forced, against
// the plain CPU reference (src/ops/cpu/conv2d_reference.h) on fresh random inputs: forward,
// backward-data and backward-filter, float32 and bfloat16; the auto choice and forced cuDNN on
// the same cases; run-to-run determinism of backward-filter; and the precision modes of conv2d
// and linear (bfloat16 storage, TF32).
// Tolerances: float32 rtol 1e-4, atol 1e-4 (sums of up to a few hundred products in a different
// order). bfloat16: the inputs are bfloat16 on both sides (the reference widens them exactly), the
// GPU sums in float and rounds each result once to bfloat16 (relative step 2^-8), so rtol 1e-2,
// atol 2e-2. TF32 rounds the inputs to 10 mantissa bits: relative difference (whole tensor) 1e-2.
#include "crunet/ops.h"
#include "crunet/ops/math_mode.h"
#include "gpu_test.h"
#include "ops/conv2d_backend.h"
#include "ops/cpu/conv2d_reference.h"
#include "ops/cuda/conv2d_kernel_choice.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

using ops::cuda::ConvKernel;
using ops::cuda::ConvKernelChoice;
using ops::cuda::ConvKernelChoiceGuard;
using ops::cuda::ConvPass;

struct Case {
  Shape x;  // [N, C, H, W]
  std::int64_t group_channels;
  std::int64_t stride;
};

// Depthwise: stride 1 and 2, odd and even sizes, batch 1 and 3; grouped: 4 and 8 per group.
const Case kCases[] = {
    {{1, 16, 7, 7}, 1, 1},   {{3, 16, 7, 7}, 1, 2},   {{3, 12, 13, 13}, 1, 1},
    {{1, 12, 13, 13}, 1, 2}, {{2, 8, 14, 9}, 1, 2},   {{1, 16, 7, 7}, 4, 1},
    {{3, 32, 13, 13}, 4, 2}, {{3, 16, 13, 11}, 4, 1}, {{1, 32, 7, 7}, 8, 1},
    {{3, 16, 13, 13}, 8, 2}, {{2, 24, 12, 12}, 8, 2},
};

struct Precision {
  DType dtype;
  double rtol, atol;
};
const Precision kFloat32{DType::Float32, 1e-4, 1e-4};
const Precision kBFloat16{DType::BFloat16, 1e-2, 2e-2};

ops::Conv2dParams params_of(const Case& c) {
  return ops::Conv2dParams{c.stride, 1, c.x[1] / c.group_channels, 1};
}

Shape weight_shape_of(const Case& c) { return {c.x[1], c.group_channels, 3, 3}; }

std::string describe(const Case& c, const Precision& p) {
  return shape_str(c.x) + " " + std::to_string(c.group_channels) + " per group, stride " +
         std::to_string(c.stride) + ", " + dtype_name(p.dtype);
}

// A random CPU tensor already rounded to the precision's dtype, kept in float32 for the reference.
Tensor random_input(const Shape& shape, std::uint64_t seed, DType dtype) {
  return randn(shape, seed).to(dtype).to(DType::Float32);
}

Tensor on_gpu(const Tensor& cpu_float, DType dtype) {
  return cpu_float.to(dtype).to(Device::cuda(0));
}

// Runs the three passes of one case on the GPU with the thread's current kernel choice and
// compares each with the CPU reference.
void expect_passes_match_reference(const Case& c, const Precision& p, std::uint64_t seed) {
  SCOPED_TRACE(describe(c, p));
  const ops::Conv2dParams params = params_of(c);
  const Shape w_shape = weight_shape_of(c);
  const Tensor x = random_input(c.x, seed, p.dtype);
  const Tensor w = random_input(w_shape, seed + 1, p.dtype);
  const Tensor y_expected = ops::cpu::reference::conv2d_forward(x, w, Tensor(), params);
  const Tensor grad_y = random_input(y_expected.shape(), seed + 2, p.dtype);

  const Tensor y =
      ops::cuda::conv2d_forward(on_gpu(x, p.dtype), on_gpu(w, p.dtype), Tensor(), params);
  EXPECT_EQ(y.dtype(), p.dtype);
  EXPECT_TRUE(testing::all_close(y, y_expected, p.rtol, p.atol)) << "forward";

  const Tensor grad_x =
      ops::cuda::conv2d_backward_data(on_gpu(grad_y, p.dtype), on_gpu(w, p.dtype), c.x, params);
  EXPECT_EQ(grad_x.dtype(), p.dtype);
  EXPECT_TRUE(testing::all_close(
      grad_x, ops::cpu::reference::conv2d_backward_data(grad_y, w, c.x, params), p.rtol, p.atol))
      << "backward-data";

  const Tensor grad_w = ops::cuda::conv2d_backward_weight(on_gpu(grad_y, p.dtype),
                                                          on_gpu(x, p.dtype), w_shape, params);
  EXPECT_EQ(grad_w.dtype(), p.dtype);
  EXPECT_TRUE(testing::all_close(
      grad_w, ops::cpu::reference::conv2d_backward_weight(grad_y, x, w_shape, params), p.rtol,
      p.atol))
      << "backward-filter";
}

void expect_last_kernels(ConvKernel kernel) {
  EXPECT_EQ(ops::cuda::conv2d_last_kernel(ConvPass::kForward), kernel);
  EXPECT_EQ(ops::cuda::conv2d_last_kernel(ConvPass::kBackwardData), kernel);
  EXPECT_EQ(ops::cuda::conv2d_last_kernel(ConvPass::kBackwardFilter), kernel);
}

TEST(CudaConvKernels, TheCasesAreCoveredByTheCustomKernels) {
  for (const Case& c : kCases) {
    for (DType dtype : {DType::Float32, DType::BFloat16}) {
      EXPECT_TRUE(
          ops::cuda::conv2d_custom_kernel_applies(c.x, weight_shape_of(c), params_of(c), dtype))
          << shape_str(c.x);
    }
  }
  // Not covered: a 1x1 kernel, padding 0, 2 or 16 channels per group, float16.
  EXPECT_FALSE(ops::cuda::conv2d_custom_kernel_applies({2, 8, 7, 7}, {8, 8, 1, 1}, {1, 0, 1},
                                                       DType::Float32));
  EXPECT_FALSE(ops::cuda::conv2d_custom_kernel_applies({2, 8, 7, 7}, {8, 1, 3, 3}, {1, 0, 8},
                                                       DType::Float32));
  EXPECT_FALSE(ops::cuda::conv2d_custom_kernel_applies({2, 8, 7, 7}, {8, 2, 3, 3}, {1, 1, 4},
                                                       DType::Float32));
  EXPECT_FALSE(ops::cuda::conv2d_custom_kernel_applies({2, 32, 7, 7}, {32, 16, 3, 3}, {1, 1, 2},
                                                       DType::Float32));
  EXPECT_FALSE(ops::cuda::conv2d_custom_kernel_applies({2, 8, 7, 7}, {8, 1, 3, 3}, {1, 1, 8},
                                                       DType::Float16));
}

TEST(CudaConvKernels, CustomMatchesTheCpuReferenceInFloat32) {
  CRUNET_SKIP_WITHOUT_GPU();
  ConvKernelChoiceGuard custom(ConvKernelChoice::kCustom);
  std::uint64_t seed = 100;
  for (const Case& c : kCases) {
    expect_passes_match_reference(c, kFloat32, seed += 3);
    expect_last_kernels(ConvKernel::kCustom);
  }
}

TEST(CudaConvKernels, CustomMatchesTheCpuReferenceInBFloat16) {
  CRUNET_SKIP_WITHOUT_GPU();
  ConvKernelChoiceGuard custom(ConvKernelChoice::kCustom);
  std::uint64_t seed = 200;
  for (const Case& c : kCases) {
    expect_passes_match_reference(c, kBFloat16, seed += 3);
    expect_last_kernels(ConvKernel::kCustom);
  }
}

TEST(CudaConvKernels, ForcedCudnnMatchesTheCpuReference) {
  CRUNET_SKIP_WITHOUT_GPU();
  ConvKernelChoiceGuard cudnn(ConvKernelChoice::kCudnn);
  std::uint64_t seed = 300;
  for (const Case& c : kCases) {
    for (const Precision& p : {kFloat32, kBFloat16}) {
      expect_passes_match_reference(c, p, seed += 3);
      expect_last_kernels(ConvKernel::kCudnn);
    }
  }
}

TEST(CudaConvKernels, AutoPicksASideAndAgrees) {
  CRUNET_SKIP_WITHOUT_GPU();
  ConvKernelChoiceGuard automatic(ConvKernelChoice::kAuto);
  std::uint64_t seed = 400;
  for (const Case& c : kCases) {
    for (const Precision& p : {kFloat32, kBFloat16}) {
      // The first call of each shape measures, the second takes the cached choice.
      for (int call = 0; call < 2; ++call) {
        expect_passes_match_reference(c, p, seed += 3);
        for (ConvPass pass :
             {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardFilter}) {
          EXPECT_NE(ops::cuda::conv2d_last_kernel(pass), ConvKernel::kNone);
        }
      }
    }
  }
}

TEST(CudaConvKernels, ForcingCustomLeavesOtherGeometriesToCudnn) {
  CRUNET_SKIP_WITHOUT_GPU();
  ConvKernelChoiceGuard custom(ConvKernelChoice::kCustom);
  const Tensor x = randn({2, 8, 7, 7}, 500, TensorOptions(Device::cuda(0)));
  const Tensor w = randn({16, 8, 1, 1}, 501, TensorOptions(Device::cuda(0)));
  const Tensor y = ops::cuda::conv2d_forward(x, w, Tensor(), {1, 0, 1});
  EXPECT_EQ(ops::cuda::conv2d_last_kernel(ConvPass::kForward), ConvKernel::kCudnn);
  EXPECT_TRUE(testing::all_close(y,
                                 ops::cpu::reference::conv2d_forward(
                                     x.to(Device::cpu()), w.to(Device::cpu()), Tensor(), {1, 0, 1}),
                                 1e-4, 1e-4));
}

TEST(CudaConvKernels, BackwardFilterIsBitwiseReproducible) {
  CRUNET_SKIP_WITHOUT_GPU();
  ConvKernelChoiceGuard custom(ConvKernelChoice::kCustom);
  // Large enough that every weight's sum is split over several chunks and blocks.
  for (const Case& c : {Case{{16, 64, 28, 28}, 1, 1}, Case{{16, 64, 28, 28}, 1, 2},
                        Case{{16, 64, 28, 28}, 8, 1}, Case{{16, 64, 28, 28}, 4, 2}}) {
    for (DType dtype : {DType::Float32, DType::BFloat16}) {
      SCOPED_TRACE(describe(c, Precision{dtype, 0, 0}));
      const ops::Conv2dParams params = params_of(c);
      const Tensor x = on_gpu(randn(c.x, 600), dtype);
      const Shape y_shape = {c.x[0], c.x[1], (c.x[2] - 1) / c.stride + 1,
                             (c.x[3] - 1) / c.stride + 1};
      const Tensor grad_y = on_gpu(randn(y_shape, 601), dtype);
      const std::vector<float> first =
          ops::cuda::conv2d_backward_weight(grad_y, x, weight_shape_of(c), params).to_vector();
      const std::vector<float> second =
          ops::cuda::conv2d_backward_weight(grad_y, x, weight_shape_of(c), params).to_vector();
      EXPECT_EQ(first, second);
    }
  }
}

TEST(CudaConvKernels, Conv2dOpWithBiasThroughTheCustomKernels) {
  CRUNET_SKIP_WITHOUT_GPU();
  ConvKernelChoiceGuard custom(ConvKernelChoice::kCustom);
  for (const Case& c : {Case{{2, 16, 9, 9}, 1, 2}, Case{{2, 16, 9, 9}, 4, 1}}) {
    SCOPED_TRACE(describe(c, kFloat32));
    const ops::Conv2dParams params = params_of(c);
    testing::expect_cuda_matches_cpu(
        [params](const std::vector<Tensor>& t) { return ops::conv2d(t[0], t[1], t[2], params); },
        {randn(c.x, 700).requires_grad(true), randn(weight_shape_of(c), 701).requires_grad(true),
         randn({c.x[1]}, 702).requires_grad(true)},
        testing::Tolerance{1e-4, 1e-4}, testing::Tolerance{1e-4, 5e-4});
  }
}

TEST(CudaConvKernels, BFloat16BiasForwardAndBackward) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (ConvKernelChoice choice : {ConvKernelChoice::kCustom, ConvKernelChoice::kCudnn}) {
    ConvKernelChoiceGuard guard(choice);
    SCOPED_TRACE(ops::cuda::conv_kernel_choice_name(choice));
    const Case c{{2, 8, 7, 7}, 1, 1};
    const ops::Conv2dParams params = params_of(c);
    const Tensor x = random_input(c.x, 710, DType::BFloat16);
    const Tensor w = random_input(weight_shape_of(c), 711, DType::BFloat16);
    const Tensor b = random_input({c.x[1]}, 712, DType::BFloat16);
    const Tensor y = ops::cuda::conv2d_forward(
        on_gpu(x, DType::BFloat16), on_gpu(w, DType::BFloat16), on_gpu(b, DType::BFloat16), params);
    EXPECT_TRUE(testing::all_close(y, ops::cpu::reference::conv2d_forward(x, w, b, params),
                                   kBFloat16.rtol, kBFloat16.atol));
    const Tensor grad_y = random_input(y.shape(), 713, DType::BFloat16);
    const Tensor grad_b = ops::cuda::conv2d_backward_bias(on_gpu(grad_y, DType::BFloat16));
    EXPECT_EQ(grad_b.dtype(), DType::BFloat16);
    EXPECT_TRUE(testing::all_close(grad_b, ops::cpu::reference::conv2d_backward_bias(grad_y),
                                   kBFloat16.rtol, kBFloat16.atol));
  }
}

// --- precision modes ----------------------------------------------------------------------------

TEST(CudaPrecision, Conv2dInTf32IsCloseToFloat32) {
  CRUNET_SKIP_WITHOUT_GPU();
  ops::CudaMathModeGuard tf32(ops::MathMode::kTf32);
  // A dense 3x3 and a 1x1: the shapes where cuDNN has tensor-core algorithms.
  for (const Shape& w_shape : {Shape{32, 16, 3, 3}, Shape{64, 16, 1, 1}}) {
    const ops::Conv2dParams params{1, w_shape[2] / 2, 1, 1};
    const Tensor x = randn({4, 16, 14, 14}, 800), w = randn(w_shape, 801);
    const Tensor expected = ops::cpu::reference::conv2d_forward(x, w, Tensor(), params);
    const Tensor y = ops::conv2d(x.to(Device::cuda(0)), w.to(Device::cuda(0)), Tensor(), params);
    EXPECT_LT(testing::relative_difference(y.to_vector(), expected.to_vector()), 1e-2);
  }
}

TEST(CudaPrecision, LinearInBFloat16AndTf32) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor x = random_input({33, 65}, 810, DType::BFloat16);
  const Tensor w = random_input({17, 65}, 811, DType::BFloat16);
  const Tensor b = random_input({17}, 812, DType::BFloat16);
  const Tensor expected = ops::linear(x, w, b);  // CPU, float32 on the same values

  Tensor xg = on_gpu(x, DType::BFloat16).requires_grad(true);
  Tensor wg = on_gpu(w, DType::BFloat16).requires_grad(true);
  Tensor bg = on_gpu(b, DType::BFloat16).requires_grad(true);
  const Tensor y = ops::linear(xg, wg, bg);
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  EXPECT_TRUE(testing::all_close(y, expected, 1e-2, 5e-2));
  y.backward(ones(y.shape(), TensorOptions(DType::BFloat16, Device::cuda(0))));
  for (const Tensor* t : {&xg, &wg, &bg}) {
    ASSERT_TRUE(t->grad().defined());
    EXPECT_EQ(t->grad().dtype(), DType::BFloat16);
  }
  // grad_b = column sums of ones = the batch size, exact in bfloat16.
  EXPECT_EQ(bg.grad().to_vector(), std::vector<float>(17, 33.0f));

  ops::CudaMathModeGuard tf32(ops::MathMode::kTf32);
  const Tensor y32 =
      ops::linear(x.to(Device::cuda(0)), w.to(Device::cuda(0)), b.to(Device::cuda(0)));
  EXPECT_EQ(y32.dtype(), DType::Float32);
  EXPECT_LT(testing::relative_difference(y32.to_vector(), expected.to_vector()), 1e-2);
}

}  // namespace
}  // namespace crunet
