// The CPU cast between float32 and bfloat16: round to nearest even at the bit level, the special
// values, and its gradient. The GPU's cast is compared with this one (tests/gpu/precision_test.cpp).
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "crunet/ops/cpu_features.h"

namespace crunet {
namespace {

float from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::uint32_t bits_of(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// The float32 value of x's bfloat16 cast, computed by the op on the CPU.
float cast_through_bfloat16(float x) {
  const Tensor y = ops::cast(from_vector({x}, {1}), DType::BFloat16);
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  return ops::cast(y, DType::Float32).to_vector()[0];
}

TEST(Cast, RoundsToNearestEven) {
  struct Case {
    std::uint32_t in, out;
  };
  const Case cases[] = {
      {0x3f800000u, 0x3f800000u},  // 1.0 is exact
      {0x3f808000u, 0x3f800000u},  // exactly halfway, even below: stays down
      {0x3f818000u, 0x3f820000u},  // exactly halfway, odd below: goes up to even
      {0x3f808001u, 0x3f810000u},  // just above halfway: up
      {0x3f807fffu, 0x3f800000u},  // just below halfway: down
      {0xbf808001u, 0xbf810000u},  // negative: the magnitude rounds the same way
      {0x7f7fffffu, 0x7f800000u},  // the largest float32 rounds up to infinity
      {0x00000001u, 0x00000000u},  // the smallest subnormal rounds to zero
      {0x00018000u, 0x00020000u},  // subnormals round like everything else (halfway, odd below)
      {0x80000000u, 0x80000000u},  // -0 keeps its sign
  };
  for (const Case& c : cases) {
    EXPECT_EQ(bits_of(cast_through_bfloat16(from_bits(c.in))), c.out)
        << std::hex << "input 0x" << c.in;
  }
}

TEST(Cast, InfinityAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(cast_through_bfloat16(inf), inf);
  EXPECT_EQ(cast_through_bfloat16(-inf), -inf);
  EXPECT_TRUE(std::isnan(cast_through_bfloat16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload sits only in the low 16 bits must not become infinity.
  const float low_payload_nan = from_bits(0x7f800001u);
  ASSERT_TRUE(std::isnan(low_payload_nan));
  EXPECT_TRUE(std::isnan(cast_through_bfloat16(low_payload_nan)));
  EXPECT_TRUE(std::isnan(cast_through_bfloat16(from_bits(0xff800001u))));
}

TEST(Cast, RoundTripOfBFloat16ValuesIsExact) {
  // Every bfloat16 value (but NaNs) survives bfloat16 -> float32 -> bfloat16 unchanged.
  std::vector<float> values;
  for (std::uint32_t high = 0; high < 0x10000u; ++high) {
    const float v = from_bits(high << 16);
    if (!std::isnan(v)) values.push_back(v);
  }
  const Shape shape{static_cast<std::int64_t>(values.size())};
  const Tensor as_bf16 = ops::cast(from_vector(values, shape), DType::BFloat16);
  const Tensor back = ops::cast(ops::cast(as_bf16, DType::Float32), DType::BFloat16);
  EXPECT_EQ(back.to_vector(), values);
}

TEST(Cast, AgreesWithTensorToDType) {
  const Tensor x = randn({4, 5, 6}, 3);
  EXPECT_EQ(ops::cast(x, DType::BFloat16).to_vector(), x.to(DType::BFloat16).to_vector());
}

TEST(Cast, ToItsOwnTypeIsTheSameTensor) {
  const Tensor x = randn({3}, 4);
  EXPECT_EQ(ops::cast(x, DType::Float32).impl_ptr(), x.impl_ptr());
}

TEST(Cast, GradientReturnsInTheSourceType) {
  // A float32 master weight used as bfloat16: its gradient arrives in float32, the bfloat16
  // gradient's values.
  Tensor master = randn({2, 3}, 5).requires_grad(true);
  const Tensor low = ops::cast(master, DType::BFloat16);
  ASSERT_TRUE(low.requires_grad());
  const Tensor upstream = randn({2, 3}, 6).to(DType::BFloat16);
  low.backward(upstream);
  ASSERT_TRUE(master.grad().defined());
  EXPECT_EQ(master.grad().dtype(), DType::Float32);
  EXPECT_EQ(master.grad().to_vector(), upstream.to_vector());
}

TEST(Cast, SharedWeightCastTwiceSumsBothGradients) {
  // As a CRU share group's W1: two casts of one master, one float32 gradient, the sum.
  Tensor master = from_vector({1.0f, 2.0f}, {2}).requires_grad(true);
  const Tensor a = ops::cast(master, DType::BFloat16);
  const Tensor b = ops::cast(master, DType::BFloat16);
  const Tensor sum = ops::cast(ops::add(ops::cast(a, DType::Float32), ops::cast(b, DType::Float32)),
                               DType::Float32);
  sum.backward(from_vector({0.5f, 0.25f}, {2}));
  EXPECT_EQ(master.grad().to_vector(), (std::vector<float>{1.0f, 0.5f}));
}

TEST(Cast, OtherTypesAreRefusedByName) {
  try {
    ops::cast(randn({2}, 7), DType::Float16);
    FAIL() << "float16 was accepted";
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cast"), std::string::npos) << message;
    EXPECT_NE(message.find("float16"), std::string::npos) << message;
  }
  EXPECT_THROW(ops::cast(from_int64_vector({1}, {1}), DType::Float32), ValueError);
}

TEST(Cast, CpuOpsRefuseBFloat16ByNameWhereTheCpuLacksIt) {
  // Where the CPU has avx512_bf16 / AMX, bfloat16 ops run (tests/ops/cpu_bf16_test.cpp); elsewhere
  // a bfloat16 activation is refused, naming the op, the type and what the CPU lacks.
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  const Tensor x = ops::cast(randn({2, 3, 4, 4}, 8), DType::BFloat16);
  const Tensor w = ones({3}), b = zeros({3});
  if (support.bf16) {
    EXPECT_EQ(ops::relu(x).dtype(), DType::BFloat16);
    EXPECT_EQ(ops::batch_norm(x, w, b, Tensor(), Tensor()).dtype(), DType::BFloat16);
    return;
  }
  for (const auto& [name, op] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"relu", [&] { ops::relu(x); }},
           {"batch_norm", [&] { ops::batch_norm(x, w, b, Tensor(), Tensor()); }}}) {
    try {
      op();
      FAIL() << "bfloat16 " << name << " ran on a CPU without bfloat16";
    } catch (const NotImplementedError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(name), std::string::npos) << message;
      EXPECT_NE(message.find("bfloat16 on the CPU needs AVX-512 BF16 or AMX"), std::string::npos)
          << message;
    }
  }
}

}  // namespace
}  // namespace crunet
