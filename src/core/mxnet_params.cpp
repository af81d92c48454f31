// MXNet's NDArray-list (.params) reader: a cursor over the bytes that checks every read against
// what is left before it trusts a count or a length.
#include "crunet/core/mxnet_params.h"

#include <cstring>
#include <fstream>
#include <set>

#include "crunet/core/error.h"
#include "crunet/core/half.h"

namespace crunet {
namespace {

constexpr std::uint64_t kListMagic = 0x112;
constexpr std::uint32_t kArrayV1Magic = 0xF993fac8;
constexpr std::uint32_t kArrayV2Magic = 0xF993fac9;
constexpr std::uint32_t kArrayV3Magic = 0xF993faca;
constexpr std::int64_t kMaxDims = 32;
constexpr std::uint64_t kMaxNameLength = 1 << 16;

class Cursor {
 public:
  Cursor(const std::uint8_t* data, std::size_t size, const std::string& source)
      : data_(data), size_(size), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(source_ + ": byte " + std::to_string(offset_) + ": " + what +
                    " (not a valid MXNet .params file)");
  }
  std::size_t left() const { return size_ - offset_; }
  std::size_t offset() const { return offset_; }

  template <typename T>
  T read(const char* what) {
    if (left() < sizeof(T)) fail(std::string("the file ends inside ") + what);
    T value;
    std::memcpy(&value, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }
  const std::uint8_t* take(std::size_t bytes, const char* what) {
    if (left() < bytes) {
      fail(std::string("the file ends inside ") + what + " (" + std::to_string(bytes) +
           " bytes needed, " + std::to_string(left()) + " left)");
    }
    const std::uint8_t* at = data_ + offset_;
    offset_ += bytes;
    return at;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
  const std::string& source_;
};

std::size_t element_size(std::int32_t type_flag, std::string& dtype) {
  switch (type_flag) {
    case 0: dtype = "float32"; return 4;
    case 1: dtype = "float64"; return 8;
    case 2: dtype = "float16"; return 2;
    default: return 0;
  }
}

const char* type_flag_name(std::int32_t type_flag) {
  switch (type_flag) {
    case 3: return "uint8";
    case 4: return "int32";
    case 5: return "int8";
    case 6: return "int64";
    case 7: return "bool";
    case 12: return "bfloat16";
    default: return "unknown";
  }
}

// One NDArray; returns false for a "none" array (ndim 0), which MXNet writes without data.
bool read_array(Cursor& in, MxnetArray& array) {
  const std::uint32_t first = in.read<std::uint32_t>("an array's header");
  bool wide_dims = true;
  bool signed_ndim = false;
  if (first == kArrayV2Magic || first == kArrayV3Magic) {
    const std::int32_t storage = in.read<std::int32_t>("an array's storage type");
    if (storage != 0) {
      in.fail("array has storage type " + std::to_string(storage) +
              " (sparse); only dense arrays are supported");
    }
    signed_ndim = first == kArrayV3Magic;
  } else if (first != kArrayV1Magic) {
    wide_dims = false;  // legacy: `first` is ndim, dims are u32
  }
  std::int64_t ndim = 0;
  if (wide_dims) {
    const std::uint32_t raw = in.read<std::uint32_t>("an array's ndim");
    ndim = signed_ndim ? static_cast<std::int32_t>(raw) : static_cast<std::int64_t>(raw);
  } else {
    ndim = first;
  }
  if (signed_ndim && ndim == -1) return false;  // v3: unknown shape, no data follows
  if (ndim < 0 || ndim > kMaxDims) {
    in.fail("array has " + std::to_string(ndim) + " dimensions (at most " +
            std::to_string(kMaxDims) + ")");
  }
  std::uint64_t count = 1;
  for (std::int64_t d = 0; d < ndim; ++d) {
    const std::int64_t dim = wide_dims ? in.read<std::int64_t>("an array's shape")
                                       : in.read<std::uint32_t>("an array's shape");
    if (dim < 0) in.fail("array has a negative dimension " + std::to_string(dim));
    // No array can hold more elements than the file has bytes: a bound that also stops overflow.
    if (dim > 0 && count > in.left() / static_cast<std::uint64_t>(dim)) {
      in.fail("array shape is larger than the file");
    }
    array.shape.push_back(dim);
    count *= static_cast<std::uint64_t>(dim);
  }
  if (ndim == 0) return false;
  in.read<std::int32_t>("an array's device type");
  in.read<std::int32_t>("an array's device id");
  const std::int32_t type_flag = in.read<std::int32_t>("an array's type flag");
  const std::size_t bytes_per = element_size(type_flag, array.dtype);
  if (bytes_per == 0) {
    in.fail("array has type flag " + std::to_string(type_flag) + " (" +
            type_flag_name(type_flag) + "); only float32, float64 and float16 are supported");
  }
  if (count > in.left() / bytes_per) {
    in.fail("the file ends inside an array's data (" + std::to_string(count) + " elements of " +
            array.dtype + ")");
  }
  const std::uint8_t* raw = in.take(count * bytes_per, "an array's data");
  array.values.resize(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint8_t* at = raw + i * bytes_per;
    if (type_flag == 0) {
      std::memcpy(&array.values[i], at, 4);
    } else if (type_flag == 1) {
      double value;
      std::memcpy(&value, at, 8);
      array.values[i] = static_cast<float>(value);
    } else {
      std::uint16_t bits;
      std::memcpy(&bits, at, 2);
      array.values[i] = half_bits_to_float(bits);
    }
  }
  return true;
}

}  // namespace

std::vector<MxnetArray> parse_mxnet_params(const std::uint8_t* data, std::size_t size,
                                           const std::string& source) {
  Cursor in(data, size, source);
  const std::uint64_t magic = in.read<std::uint64_t>("the header");
  if (magic != kListMagic) in.fail("wrong magic number (expected 0x112)");
  in.read<std::uint64_t>("the header");  // reserved
  const std::uint64_t count = in.read<std::uint64_t>("the array count");
  // Each array takes at least 4 bytes, so a larger count cannot be genuine.
  if (count > in.left() / 4) in.fail("array count " + std::to_string(count) + " is larger than the file");
  std::vector<MxnetArray> arrays;
  std::vector<bool> none;
  for (std::uint64_t i = 0; i < count; ++i) {
    MxnetArray array;
    none.push_back(!read_array(in, array));
    arrays.push_back(std::move(array));
  }
  const std::uint64_t names = in.read<std::uint64_t>("the name count");
  if (names != count) {
    in.fail("the file has " + std::to_string(count) + " arrays but " + std::to_string(names) +
            " names (a checkpoint names every array)");
  }
  std::set<std::string> seen;
  for (std::uint64_t i = 0; i < names; ++i) {
    const std::uint64_t length = in.read<std::uint64_t>("a name's length");
    if (length == 0 || length > kMaxNameLength) {
      in.fail("a name of length " + std::to_string(length) + " (1 to " +
              std::to_string(kMaxNameLength) + " expected)");
    }
    const std::uint8_t* bytes = in.take(static_cast<std::size_t>(length), "a name");
    std::string name(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(length));
    if (!seen.insert(name).second) in.fail("the name '" + name + "' appears twice");
    arrays[i].name = std::move(name);
  }
  if (in.left() != 0) {
    in.fail(std::to_string(in.left()) + " bytes after the last name");
  }
  std::vector<MxnetArray> kept;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    if (none[i]) {
      throw UserError(source + ": array '" + arrays[i].name + "' is empty (no shape)");
    }
    kept.push_back(std::move(arrays[i]));
  }
  return kept;
}

std::vector<MxnetArray> read_mxnet_params(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) throw UserError(path + ": cannot open the MXNet .params file");
  const std::streamsize size = file.tellg();
  if (size < 0) throw UserError(path + ": cannot read the MXNet .params file");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  file.seekg(0);
  if (size > 0 && !file.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw UserError(path + ": cannot read the MXNet .params file");
  }
  return parse_mxnet_params(bytes.data(), bytes.size(), path);
}

}  // namespace crunet
