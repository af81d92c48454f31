#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "crunet/crunet.h"

namespace crunet {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "crunet_safetensors_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static void write_bytes(const std::string& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  static std::string read_bytes(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // The 8-byte little-endian length, the header as given, then the data.
  static std::string file_bytes(const std::string& header, const std::string& data) {
    std::string bytes;
    for (int i = 0; i < 8; ++i) {
      bytes += static_cast<char>((static_cast<std::uint64_t>(header.size()) >> (8 * i)) & 0xff);
    }
    return bytes + header + data;
  }

  // Loading `bytes` throws UserError whose message names the file and contains `expected`.
  void expect_rejected(const std::string& bytes, const std::string& expected) {
    const std::string file = path("bad.safetensors");
    write_bytes(file, bytes);
    try {
      load_safetensors(file);
      ADD_FAILURE() << "no error for a file that should give '" << expected << "'";
    } catch (const UserError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(file), std::string::npos) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
  }

  fs::path dir_;
};

std::string raw_bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.data_ptr()), t.nbytes());
}

TEST_F(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32", from_vector({1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, -7.0f}, {2, 3})},
      {"f16", from_vector({0.5f, -1.0f, 65504.0f, 1e-3f}, {4}, DType::Float16)},
      {"bf16", from_vector({3.0f, -0.125f, 1e20f}, {3, 1}, DType::BFloat16)},
      {"i32", from_vector({1.0f, -2.0f, 2147483520.0f}, {3}, DType::Int32)},
      {"i64", from_int64_vector({-1, std::int64_t{1} << 40, 7, 0}, {2, 2})},
      {"scalar", from_vector({42.5f}, {})},
      {"empty", zeros({0, 3})},
      {"layer.0.weight", randn({2, 3, 1, 1}, 5)},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"config", "{\"lr\": 0.1}\nline two"}};
  const std::string file = path("all.safetensors");
  save_safetensors(file, tensors, metadata);

  const SafetensorsFile loaded = load_safetensors(file);
  EXPECT_EQ(loaded.path, file);
  EXPECT_EQ(loaded.metadata, metadata);
  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, expected] = tensors[i];
    const Tensor& actual = loaded.tensors[i].second;
    EXPECT_EQ(loaded.tensors[i].first, name) << "order of the header is kept";
    EXPECT_EQ(actual.dtype(), expected.dtype()) << name;
    EXPECT_EQ(actual.shape(), expected.shape()) << name;
    EXPECT_EQ(actual.device(), Device::cpu()) << name;
    EXPECT_TRUE(actual.is_contiguous()) << name;
    EXPECT_EQ(raw_bytes(actual), raw_bytes(expected)) << name;
    EXPECT_TRUE(loaded.contains(name));
  }
  EXPECT_EQ(loaded.at("scalar").shape(), Shape{});
  EXPECT_EQ(loaded.at("scalar").item(), 42.5f);
  EXPECT_EQ(loaded.at("i64").to_int64_vector(),
            (std::vector<std::int64_t>{-1, std::int64_t{1} << 40, 7, 0}));
  EXPECT_FALSE(loaded.contains("missing"));
  try {
    loaded.at("missing");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("f32"), std::string::npos);
  }
}

TEST_F(Safetensors, EmptyFileListAndNoMetadata) {
  const std::string file = path("empty.safetensors");
  save_safetensors(file, {});
  EXPECT_EQ(read_bytes(file), file_bytes("{}      ", ""));
  const SafetensorsFile loaded = load_safetensors(file);
  EXPECT_TRUE(loaded.tensors.empty());
  EXPECT_TRUE(loaded.metadata.empty());
}

TEST_F(Safetensors, WritesTheExactBytesOfTheFormat) {
  // Header: metadata first, then the tensors in the caller's order; the data of larger elements
  // first, so every tensor is aligned; the header padded with spaces to a multiple of 8.
  const std::string file = path("exact.safetensors");
  save_safetensors(file,
                   {{"h", from_vector({1.0f, -2.0f}, {2}, DType::Float16)},
                    {"w", from_vector({1.0f, 0.5f}, {1, 2})}},
                   {{"k", "v"}});
  const std::string header =
      R"({"__metadata__":{"k":"v"},"h":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},)"
      R"("w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})";
  std::string padded = header;
  padded.append((8 - header.size() % 8) % 8, ' ');
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\x3f\x00\x3c\x00\xc0", 12);
  EXPECT_EQ(read_bytes(file), file_bytes(padded, data));
  EXPECT_EQ((8 + padded.size()) % 8, 0u);
}

TEST_F(Safetensors, ReadsAFileWrittenByHand) {
  // As another writer might make it: whitespace in the JSON, keys in any order, metadata last,
  // header order different from data order, and an empty tensor.
  const std::string header =
      "{\n  \"b\": {\"shape\": [2], \"data_offsets\": [8, 12], \"dtype\": \"BF16\"},\n"
      "  \"a\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]},\n"
      "  \"z\": {\"dtype\": \"F16\", \"shape\": [0, 4], \"data_offsets\": [12, 12]},\n"
      "  \"h\": {\"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [12, 14]},\n"
      "  \"i\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [4, 8]},\n"
      "  \"l\": {\"dtype\": \"I64\", \"shape\": [1, 1], \"data_offsets\": [14, 22]},\n"
      "  \"__metadata__\": {\"format\": \"pt\"}\n}   ";
  const std::string data(
      "\x00\x00\x80\x3f"                   // a: F32 1.0
      "\x07\x00\x00\x00"                   // i: I32 7
      "\x80\x3f\x00\xc0"                   // b: BF16 1.0, -2.0
      "\x00\x3c"                           // h: F16 1.0
      "\xfe\xff\xff\xff\xff\xff\xff\xff",  // l: I64 -2
      22);
  const std::string file = path("by_hand.safetensors");
  write_bytes(file, file_bytes(header, data));

  const SafetensorsFile loaded = load_safetensors(file);
  ASSERT_EQ(loaded.tensors.size(), 6u);
  const std::vector<std::string> order = {"b", "a", "z", "h", "i", "l"};
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(loaded.tensors[i].first, order[i]);
  EXPECT_EQ(loaded.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(loaded.at("a").shape(), Shape{});
  EXPECT_EQ(loaded.at("a").item(), 1.0f);
  EXPECT_EQ(loaded.at("b").dtype(), DType::BFloat16);
  EXPECT_EQ(loaded.at("b").to_vector(), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(loaded.at("z").shape(), (Shape{0, 4}));
  EXPECT_EQ(loaded.at("h").dtype(), DType::Float16);
  EXPECT_EQ(loaded.at("h").item(), 1.0f);
  EXPECT_EQ(loaded.at("i").dtype(), DType::Int32);
  EXPECT_EQ(loaded.at("i").item(), 7.0f);
  EXPECT_EQ(loaded.at("l").dtype(), DType::Int64);
  EXPECT_EQ(loaded.at("l").to_int64_vector(), (std::vector<std::int64_t>{-2}));
}

TEST_F(Safetensors, NonContiguousTensorsAreWrittenContiguous) {
  Tensor base = from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
  auto impl = std::make_shared<TensorImpl>(base.impl());  // the transpose: a [3, 2] view
  impl->shape = {3, 2};
  impl->strides = {1, 3};
  impl->grad_fn = nullptr;
  const Tensor transposed(impl);
  ASSERT_FALSE(transposed.is_contiguous());
  const std::string file = path("t.safetensors");
  save_safetensors(file, {{"t", transposed}});
  const Tensor loaded = load_safetensors(file).at("t");
  EXPECT_EQ(loaded.shape(), (Shape{3, 2}));
  EXPECT_EQ(loaded.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST_F(Safetensors, ReplacesAnExistingFileAndLeavesNoTemporaryFile) {
  const std::string file = path("model.safetensors");
  save_safetensors(file, {{"x", ones({3})}});
  save_safetensors(file, {{"y", zeros({2})}}, {{"epoch", "2"}});
  const SafetensorsFile loaded = load_safetensors(file);
  ASSERT_EQ(loaded.tensors.size(), 1u);
  EXPECT_EQ(loaded.tensors[0].first, "y");
  EXPECT_EQ(loaded.metadata.at("epoch"), "2");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"model.safetensors"});
}

TEST_F(Safetensors, SaveRejectsBadNamesAndReportsIoFailures) {
  const std::string file = path("x.safetensors");
  EXPECT_THROW(save_safetensors(file, {{"a", ones({1})}, {"a", ones({1})}}), ValueError);
  EXPECT_THROW(save_safetensors(file, {{"", ones({1})}}), ValueError);
  EXPECT_THROW(save_safetensors(file, {{"__metadata__", ones({1})}}), ValueError);
  EXPECT_THROW(save_safetensors(file, {{"a", Tensor()}}), ValueError);
  EXPECT_FALSE(fs::exists(file));
  try {
    save_safetensors(path("no/such/folder/x.safetensors"), {{"a", ones({1})}});
    FAIL();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/folder"), std::string::npos) << e.what();
  }
}

TEST_F(Safetensors, RejectsFilesShorterThanTheHeaderLength) {
  expect_rejected("", "0 bytes, fewer than the 8");
  expect_rejected(std::string("\x10\x00\x00", 3), "3 bytes, fewer than the 8");
}

TEST_F(Safetensors, RejectsAHeaderLengthBeyondTheFile) {
  std::string bytes = file_bytes("{}      ", "");
  bytes[0] = 9;
  expect_rejected(bytes, "header length 9 goes beyond the file's 16 bytes");
  bytes = file_bytes("{}      ", "");
  bytes[7] = '\x80';  // an absurd length must not allocate or overflow
  expect_rejected(bytes, "goes beyond");
}

TEST_F(Safetensors, RejectsInvalidJson) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", )", ""), "not valid JSON");
  expect_rejected(file_bytes("[1, 2]", ""), "not a JSON object");
  expect_rejected(file_bytes("", ""), "not valid JSON");
  expect_rejected(file_bytes(R"({"a": 3})", ""), "tensor 'a' is not described by a JSON object");
  expect_rejected(file_bytes(R"({"a": {"shape": [], "data_offsets": [0, 4]}})", std::string(4, 0)),
                  "no \"dtype\"");
  expect_rejected(file_bytes(R"({"__metadata__": {"epoch": 3}})", ""),
                  "value of 'epoch' is not a string");
}

TEST_F(Safetensors, RejectsNumbersTooLargeForJsonAndShapesTooLargeForStrides) {
  // Found by fuzz_safetensors: nlohmann-json throws out_of_range, not parse_error, for these.
  expect_rejected(file_bytes(R"({"a":18446744073709551615e844674407370955})", ""),
                  "not valid JSON");
  // An empty tensor whose other extents overflow int64_t when multiplied into strides.
  expect_rejected(
      file_bytes(R"({"e": {"dtype": "F32", "shape": [0, 4611686018427387904, 4611686018427387904],)"
                 R"( "data_offsets": [0, 0]}})",
                 ""),
      "which is too large");
}

TEST_F(Safetensors, RejectsUnknownDtypes) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})",
                             std::string(8, 0)),
                  "dtype \"F64\"");
  expect_rejected(file_bytes(R"({"a": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}})",
                             std::string(4, 0)),
                  "dtype \"f32\"");
}

TEST_F(Safetensors, RejectsShapesThatDoNotMatchTheOffsets) {
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})",
                             std::string(20, 0)),
                  "tensor 'w' of dtype F32 and shape [2, 3] needs 24 bytes, but its data_offsets "
                  "[0, 20) hold 20");
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
                             std::string(8, 0)),
                  "not a list of non-negative integers");
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 8]}})",
                             std::string(8, 0)),
                  "not a list of non-negative integers");
  expect_rejected(
      file_bytes(
          R"({"w": {"dtype": "I64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
          std::string(8, 0)),
      "too large");
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4]}})",
                             std::string(4, 0)),
                  "no \"data_offsets\" pair");
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})",
                             std::string(8, 0)),
                  "end before they begin");
}

TEST_F(Safetensors, RejectsOffsetsOutsideTheData) {
  expect_rejected(file_bytes(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                             std::string(12, 0)),
                  "tensor 'w' has data_offsets [0, 16) outside the byte buffer of 12 bytes");
  // A good file cut short.
  const std::string file = path("good.safetensors");
  save_safetensors(file, {{"x", randn({4, 4}, 1)}});
  std::string bytes = read_bytes(file);
  bytes.resize(bytes.size() - 3);
  expect_rejected(bytes, "outside the byte buffer");
}

TEST_F(Safetensors, RejectsOverlapsHolesAndTrailingBytes) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                             R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                             std::string(12, 0)),
                  "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                             std::string(4, 0)),
                  "overlap");
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                             std::string(12, 0)),
                  "bytes [4, 8) of the byte buffer belong to no tensor");
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                             std::string(6, 0)),
                  "the byte buffer has 6 bytes but the tensors use 4");
}

TEST_F(Safetensors, RejectsDuplicateNames) {
  expect_rejected(file_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             R"( "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                             std::string(8, 0)),
                  "names 'a' more than once");
}

TEST_F(Safetensors, MissingFileIsAUserError) {
  const std::string file = path("absent.safetensors");
  try {
    load_safetensors(file);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
  EXPECT_THROW(load_safetensors(dir_.string()), UserError);
}

}  // namespace
}  // namespace crunet
