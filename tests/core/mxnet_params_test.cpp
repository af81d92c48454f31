// MXNet's .params format: a file MXNet 1.9.1 wrote reads back by name and shape, and every kind of
// damage is a UserError naming the byte, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "crunet/core/error.h"
#include "crunet/core/mxnet_params.h"

namespace crunet {
namespace {

const std::string kParams = std::string(CRUNET_FIXTURE_DIR) + "/mxnet/crunet56_tiny-0000.params";

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A little-endian byte writer for hand-made files.
struct Bytes {
  std::vector<std::uint8_t> data;
  template <typename T>
  Bytes& put(T value) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
    data.insert(data.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& text(const std::string& s) {
    put<std::uint64_t>(s.size());
    data.insert(data.end(), s.begin(), s.end());
    return *this;
  }
};

// One float32 array [2] named "arg:w", in the v2 layout; `type_flag` and `ndim` can be spoiled.
Bytes one_array(std::int32_t type_flag = 0, std::uint32_t ndim = 1, std::int64_t dim = 2) {
  Bytes b;
  b.put<std::uint64_t>(0x112).put<std::uint64_t>(0).put<std::uint64_t>(1);
  b.put<std::uint32_t>(0xF993fac9).put<std::int32_t>(0).put<std::uint32_t>(ndim);
  for (std::uint32_t i = 0; i < ndim && i < 4; ++i) b.put<std::int64_t>(dim);
  b.put<std::int32_t>(1).put<std::int32_t>(0).put<std::int32_t>(type_flag);
  b.put<float>(1.5f).put<float>(-2.0f);
  b.put<std::uint64_t>(1).text("arg:w");
  return b;
}

std::string error_of(const std::vector<std::uint8_t>& bytes) {
  try {
    parse_mxnet_params(bytes.data(), bytes.size(), "x.params");
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(MxnetParams, ReadsWhatMxnetWrote) {
  const std::vector<MxnetArray> arrays = read_mxnet_params(kParams);
  ASSERT_EQ(arrays.size(), 271u);
  const auto stem = std::find_if(arrays.begin(), arrays.end(), [](const MxnetArray& a) {
    return a.name == "arg:conv1_x_1__conv_weight";
  });
  ASSERT_NE(stem, arrays.end());
  EXPECT_EQ(stem->shape, (std::vector<std::int64_t>{8, 3, 7, 7}));
  EXPECT_EQ(stem->values.size(), 8u * 3 * 7 * 7);
  EXPECT_EQ(stem->dtype, "float32");
}

TEST(MxnetParams, ReadsAHandMadeFile) {
  const Bytes b = one_array();
  const auto arrays = parse_mxnet_params(b.data.data(), b.data.size(), "x.params");
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_EQ(arrays[0].name, "arg:w");
  EXPECT_EQ(arrays[0].values, (std::vector<float>{1.5f, -2.0f}));
}

TEST(MxnetParams, EveryTruncationIsAUserError) {
  const std::vector<std::uint8_t> whole = file_bytes(kParams);
  // Cut at many points, including inside headers, data and names.
  for (std::size_t cut = 0; cut < whole.size(); cut += 997) {
    const std::vector<std::uint8_t> part(whole.begin(), whole.begin() + cut);
    EXPECT_NE(error_of(part).find("x.params: byte"), std::string::npos) << "cut at " << cut;
  }
  const Bytes b = one_array();
  for (std::size_t cut = 0; cut < b.data.size(); ++cut) {
    const std::vector<std::uint8_t> part(b.data.begin(), b.data.begin() + cut);
    EXPECT_NE(error_of(part), "") << "cut at " << cut;
  }
}

TEST(MxnetParams, HostileHeadersAreUserErrors) {
  Bytes wrong_magic = one_array();
  wrong_magic.data[0] = 0x13;
  EXPECT_NE(error_of(wrong_magic.data).find("wrong magic"), std::string::npos);

  Bytes huge_count = one_array();
  const std::uint64_t count = 1ull << 62;
  std::memcpy(huge_count.data.data() + 16, &count, 8);
  EXPECT_NE(error_of(huge_count.data).find("larger than the file"), std::string::npos);

  EXPECT_NE(error_of(one_array(0, 1, 1ll << 60).data).find("larger than the file"),
            std::string::npos);
  EXPECT_NE(error_of(one_array(0, 1, -3).data).find("negative dimension"), std::string::npos);
  EXPECT_NE(error_of(one_array(0, 1000).data).find("1000 dimensions"), std::string::npos);
  EXPECT_NE(error_of(one_array(4).data).find("int32"), std::string::npos);

  Bytes sparse = one_array();
  sparse.data[28] = 1;  // the storage type
  EXPECT_NE(error_of(sparse.data).find("sparse"), std::string::npos);

  Bytes huge_name = one_array();
  const std::uint64_t length = 1ull << 40;
  std::memcpy(huge_name.data.data() + huge_name.data.size() - 13, &length, 8);
  EXPECT_NE(error_of(huge_name.data).find("name of length"), std::string::npos);

  Bytes trailing = one_array();
  trailing.data.push_back(0);
  EXPECT_NE(error_of(trailing.data).find("bytes after the last name"), std::string::npos);
}

TEST(MxnetParams, NamesMustMatchArrays) {
  Bytes no_names;
  no_names.put<std::uint64_t>(0x112).put<std::uint64_t>(0).put<std::uint64_t>(0);
  no_names.put<std::uint64_t>(1).text("arg:w");
  EXPECT_NE(error_of(no_names.data).find("0 arrays but 1 names"), std::string::npos);

  Bytes twice;
  twice.put<std::uint64_t>(0x112).put<std::uint64_t>(0).put<std::uint64_t>(2);
  for (int i = 0; i < 2; ++i) {
    twice.put<std::uint32_t>(0xF993fac9).put<std::int32_t>(0).put<std::uint32_t>(1);
    twice.put<std::int64_t>(1).put<std::int32_t>(1).put<std::int32_t>(0).put<std::int32_t>(0);
    twice.put<float>(1.0f);
  }
  twice.put<std::uint64_t>(2).text("arg:w").text("arg:w");
  EXPECT_NE(error_of(twice.data).find("appears twice"), std::string::npos);
}

TEST(MxnetParams, MissingFileIsAUserError) {
  EXPECT_THROW(read_mxnet_params("/nonexistent/x.params"), UserError);
}

}  // namespace
}  // namespace crunet
