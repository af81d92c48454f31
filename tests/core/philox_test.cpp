// Philox4x32-10 and the CUDA fills' element mapping (src/core/cuda/philox.h), on the CPU: the
// known-answer vectors of Random123 (its kat_vectors), and the distribution and reproducibility
// of the values the GPU fill kernel computes. Also the per-device generator state.
#include <cmath>

#include <gtest/gtest.h>

#include "core/cuda/philox.h"
#include "crunet/core/error.h"
#include "crunet/core/rng.h"

namespace crunet {
namespace {

void expect_block(const philox::Block& actual, const philox::Block& expected) {
  EXPECT_EQ(actual.x, expected.x);
  EXPECT_EQ(actual.y, expected.y);
  EXPECT_EQ(actual.z, expected.z);
  EXPECT_EQ(actual.w, expected.w);
}

TEST(Philox, KnownAnswerVectors) {
  expect_block(philox::philox4x32_10({0, 0, 0, 0}, 0, 0),
               {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  expect_block(philox::philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                     0xffffffffu, 0xffffffffu),
               {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  expect_block(philox::philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                                     0xa4093822u, 0x299f31d0u),
               {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST(Philox, FillBlockPlacesGroupFillAndSeed) {
  const std::uint64_t seed = 0x0123456789abcdefULL, fill = 0x1111222233334444ULL;
  const std::uint64_t group = 0x55556666777788ULL;
  expect_block(philox::fill_block(seed, fill, group),
               philox::philox4x32_10({0x66777788u, 0x00555566u, 0x33334444u, 0x11112222u},
                                     0x89abcdefu, 0x01234567u));
}

TEST(Philox, UniformsAreInTheUnitIntervalWithTheRightMoments) {
  const std::int64_t groups = 1 << 16;
  double sum = 0, squares = 0;
  float low = 1, high = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    float v[4];
    philox::uniform4(7, 0, static_cast<std::uint64_t>(g), v);
    for (float x : v) {
      sum += x;
      squares += static_cast<double>(x) * x;
      low = std::min(low, x);
      high = std::max(high, x);
    }
  }
  const double n = 4.0 * groups;
  EXPECT_GE(low, 0.0f);
  EXPECT_LT(high, 1.0f);
  EXPECT_NEAR(sum / n, 0.5, 0.005);
  EXPECT_NEAR(squares / n - (sum / n) * (sum / n), 1.0 / 12.0, 0.002);
}

TEST(Philox, NormalsHaveMeanZeroAndUnitVariance) {
  const std::int64_t groups = 1 << 16;
  double sum = 0, squares = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    float v[4];
    philox::normal4(11, 3, static_cast<std::uint64_t>(g), v);
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x));
      sum += x;
      squares += static_cast<double>(x) * x;
    }
  }
  const double n = 4.0 * groups;  // 262144 values: the mean's standard error is 0.002
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(squares / n - (sum / n) * (sum / n)), 1.0, 0.01);
}

TEST(Philox, FillsOfOneSeedDifferAndRepeat) {
  float a[4], b[4], c[4];
  philox::normal4(5, 0, 9, a);
  philox::normal4(5, 1, 9, b);
  philox::normal4(5, 0, 9, c);
  EXPECT_NE(a[0], b[0]);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(a[j], c[j]);
}

TEST(CudaGenerator, CountsFillsAndFollowsManualSeed) {
  manual_seed(42);
  CudaGenerator& generator = cuda_generator(0);
  EXPECT_EQ(generator.seed(), 42u);
  EXPECT_EQ(generator.next_fill(), std::make_pair(std::uint64_t{42}, std::uint64_t{0}));
  EXPECT_EQ(generator.next_fill(), std::make_pair(std::uint64_t{42}, std::uint64_t{1}));
  const std::string saved = generator.state();
  EXPECT_EQ(generator.next_fill().second, 2u);
  generator.set_state(saved);
  EXPECT_EQ(generator.next_fill().second, 2u);
  manual_seed(7);
  EXPECT_EQ(generator.next_fill(), std::make_pair(std::uint64_t{7}, std::uint64_t{0}));
  // A device first used after manual_seed starts from its seed too.
  EXPECT_EQ(cuda_generator(3).seed(), 7u);
  EXPECT_THROW(generator.set_state("nonsense"), ValueError);
  EXPECT_THROW(cuda_generator(-1), ValueError);
  manual_seed(0);
}

}  // namespace
}  // namespace crunet
