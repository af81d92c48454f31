#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

TEST(Tensor, FactoriesHaveShapeDtypeAndValues) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.device(), Device::cpu());
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.to_vector(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(ones({4}).to_vector(), std::vector<float>(4, 1.0f));
  EXPECT_EQ(full({2}, 2.5).to_vector(), (std::vector<float>{2.5f, 2.5f}));
  Tensor v = from_vector({1, 2, 3, 4, 5, 6}, {3, 2});
  EXPECT_EQ(v.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(v.size(-1), 2);
  EXPECT_THROW(v.size(2), ValueError);
}

TEST(Tensor, FromVectorRejectsWrongCount) {
  EXPECT_THROW(from_vector({1, 2, 3}, {2, 2}), ValueError);
}

TEST(Tensor, StorageIsAligned) {
  for (std::int64_t n : {1, 3, 17, 1000}) {
    Tensor t = empty({n});
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data_ptr()) % kCpuAlignment, 0u);
  }
}

TEST(Tensor, DtypeConversionsRoundTrip) {
  Tensor x = from_vector({0.0f, 1.0f, -2.5f, 65504.0f, 1e-3f}, {5});
  EXPECT_EQ(x.to(DType::Float16).to(DType::Float32).to_vector(),
            (std::vector<float>{0.0f, 1.0f, -2.5f, 65504.0f, half_bits_to_float(float_to_half_bits(1e-3f))}));
  EXPECT_EQ(x.to(DType::Int64).to_int64_vector(), (std::vector<std::int64_t>{0, 1, -2, 65504, 0}));
  const std::vector<float> bf = x.to(DType::BFloat16).to_vector();
  EXPECT_EQ(bf[2], -2.5f);
  EXPECT_NEAR(bf[4], 1e-3f, 1e-3f / 128);
  EXPECT_EQ(x.to(DType::Int32).dtype(), DType::Int32);
}

TEST(Half, MatchesKnownBitPatterns) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(1e6f), 0x7c00);             // overflow to infinity
  EXPECT_EQ(float_to_half_bits(5.9604645e-8f), 0x0001);    // smallest subnormal
  EXPECT_EQ(half_bits_to_float(0x0001), 5.9604645e-8f);
  EXPECT_EQ(half_bits_to_float(0x3555), 0.33325195f);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16_bits(1.00390625f), 0x3f80);  // halfway: rounds to even
  EXPECT_EQ(float_to_bfloat16_bits(1.01171875f), 0x3f82);  // halfway: rounds to even (up)
}

TEST(Tensor, ReshapeIsAViewAndChecksCount) {
  Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x.reshape({3, -1});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.data_ptr(), x.data_ptr());
  EXPECT_THROW(x.reshape({4, -1}), ValueError);
  EXPECT_THROW(x.reshape({-1, -1}), ValueError);
}

TEST(Tensor, CopyChecksShape) {
  Tensor a = zeros({2, 2});
  EXPECT_THROW(a.copy_(zeros({4})), ValueError);
  a.copy_(from_vector({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(a.to_vector(), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Tensor, ItemNeedsOneElement) {
  EXPECT_EQ(full({1}, 3.0).item(), 3.0f);
  EXPECT_THROW(zeros({2}).item(), ValueError);
}

TEST(Tensor, CudaWithoutBackendIsAClearError) {
  if (cuda_is_available()) GTEST_SKIP() << "a GPU is present";
#if !CRUNET_WITH_CUDA
  EXPECT_THROW(zeros({2}).to(Device::cuda(0)), NotImplementedError);
#endif
}

TEST(Device, ParsesNames) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  EXPECT_THROW(Device::parse("gpu"), ValueError);
  EXPECT_THROW(Device::parse("cuda:x"), ValueError);
}

TEST(Allocator, TracksCurrentAndPeak) {
  Allocator& allocator = cpu_allocator();
  allocator.reset_peak();
  const MemoryStats before = allocator.stats();
  {
    Tensor big = empty({1 << 20});
    const MemoryStats during = allocator.stats();
    EXPECT_GE(during.current_bytes - before.current_bytes, (1 << 20) * 4);
  }
  const MemoryStats after = allocator.stats();
  EXPECT_EQ(after.current_bytes, before.current_bytes);
  EXPECT_GE(after.peak_bytes - before.current_bytes, (1 << 20) * 4);
}

}  // namespace
}  // namespace crunet
