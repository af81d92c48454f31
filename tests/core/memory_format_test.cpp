// Channels-last (NHWC) tensors: strides, predicates, conversions both ways (the tiled 4-byte
// transposition and the element-by-element path), and the raw in-place updates across layouts.
#include <gtest/gtest.h>

#include <vector>

#include "crunet/crunet.h"

namespace crunet {
namespace {

// x[n, c, h, w] read through the tensor's own strides.
float at(const Tensor& t, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  const Shape& s = t.strides();
  return t.data<float>()[n * s[0] + c * s[1] + h * s[2] + w * s[3]];
}

TEST(MemoryFormat, ChannelsLastStridesAndPredicates) {
  const Tensor t = empty({2, 3, 4, 5}, {}, MemoryFormat::ChannelsLast);
  EXPECT_EQ(t.strides(), (Shape{60, 1, 15, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_TRUE(t.is_contiguous(MemoryFormat::ChannelsLast));
  EXPECT_EQ(t.memory_format(), MemoryFormat::ChannelsLast);

  const Tensor plain = empty({2, 3, 4, 5});
  EXPECT_TRUE(plain.is_contiguous(MemoryFormat::Contiguous));
  EXPECT_FALSE(plain.is_contiguous(MemoryFormat::ChannelsLast));
  EXPECT_EQ(plain.memory_format(), MemoryFormat::Contiguous);

  // One channel, or one pixel: both layouts are the same memory, and it reads as NCHW.
  for (const Shape& shape : {Shape{2, 1, 4, 5}, Shape{2, 7, 1, 1}}) {
    const Tensor either = empty(shape, {}, MemoryFormat::ChannelsLast);
    EXPECT_TRUE(either.is_contiguous());
    EXPECT_TRUE(either.is_contiguous(MemoryFormat::ChannelsLast));
    EXPECT_EQ(either.memory_format(), MemoryFormat::Contiguous);
  }
  EXPECT_FALSE(empty({6, 5}).is_contiguous(MemoryFormat::ChannelsLast));
  EXPECT_THROW(empty({6, 5}, {}, MemoryFormat::ChannelsLast), ValueError);
}

// Sizes on both sides of the 32-element tiles, odd ones included.
class ConversionTest : public ::testing::TestWithParam<Shape> {};

TEST_P(ConversionTest, RoundTripPutsEveryElementWhereTheStridesSay) {
  const Shape shape = GetParam();
  const Tensor x = randn(shape, 11);
  const Tensor nhwc = x.contiguous(MemoryFormat::ChannelsLast);
  ASSERT_TRUE(nhwc.is_contiguous(MemoryFormat::ChannelsLast));
  const float* raw = nhwc.data<float>();
  const std::int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t k = 0; k < c; ++k) {
      for (std::int64_t y = 0; y < h; ++y) {
        for (std::int64_t z = 0; z < w; ++z) {
          ASSERT_EQ(raw[((i * h + y) * w + z) * c + k], at(x, i, k, y, z))
              << "at [" << i << ", " << k << ", " << y << ", " << z << "]";
        }
      }
    }
  }
  EXPECT_EQ(nhwc.to_vector(), x.to_vector());  // logical order is unchanged
  const Tensor back = nhwc.contiguous();
  ASSERT_TRUE(back.is_contiguous());
  EXPECT_EQ(back.to_vector(), x.to_vector());
  // The element-by-element path (a dtype change) reads the NHWC strides the same way.
  EXPECT_EQ(nhwc.to(DType::BFloat16).to_vector(), x.to(DType::BFloat16).to_vector());
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConversionTest,
                         ::testing::Values(Shape{1, 3, 5, 7}, Shape{2, 37, 6, 11},
                                           Shape{3, 64, 8, 8}, Shape{2, 5, 33, 1}));

TEST(MemoryFormat, NonFloatTensorsConvertToo) {
  const Tensor x =
      from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 3, 2, 2}).to(DType::Int64);
  const Tensor nhwc = x.contiguous(MemoryFormat::ChannelsLast);
  EXPECT_EQ(nhwc.to_int64_vector(), x.to_int64_vector());
  EXPECT_EQ(nhwc.data<std::int64_t>()[1], 5);  // [0, 1, 0, 0] comes right after [0, 0, 0, 0]
}

TEST(MemoryFormat, LikeFactoriesKeepTheLayout) {
  const Tensor nhwc = randn({2, 4, 3, 3}, 3).contiguous(MemoryFormat::ChannelsLast);
  EXPECT_EQ(empty_like(nhwc).memory_format(), MemoryFormat::ChannelsLast);
  const Tensor zero = zeros_like(nhwc);
  EXPECT_EQ(zero.memory_format(), MemoryFormat::ChannelsLast);
  for (float v : zero.to_vector()) ASSERT_EQ(v, 0.0f);
  EXPECT_EQ(empty_like(randn({2, 4, 3, 3}, 3)).memory_format(), MemoryFormat::Contiguous);
}

TEST(MemoryFormat, InPlaceUpdatesPairLogicalElementsAcrossLayouts) {
  const Tensor a = randn({2, 6, 5, 4}, 5), b = randn({2, 6, 5, 4}, 6);
  std::vector<float> expected = a.to_vector();
  const std::vector<float> bv = b.to_vector();
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += 0.5f * bv[i];

  Tensor nhwc_dst = a.contiguous(MemoryFormat::ChannelsLast);  // a fresh copy of a
  add_inplace(nhwc_dst, b, 0.5f);  // NCHW source into an NHWC destination
  EXPECT_EQ(nhwc_dst.to_vector(), expected);

  Tensor nchw_dst = a.clone();
  add_inplace(nchw_dst, b.contiguous(MemoryFormat::ChannelsLast), 0.5f);
  EXPECT_EQ(nchw_dst.to_vector(), expected);

  Tensor scaled = b.contiguous(MemoryFormat::ChannelsLast);
  scale_inplace(scaled, 2.0f);
  std::vector<float> doubled = bv;
  for (float& v : doubled) v *= 2.0f;
  EXPECT_EQ(scaled.to_vector(), doubled);
}

}  // namespace
}  // namespace crunet
