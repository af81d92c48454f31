#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace crunet {

enum class DType : std::uint8_t { Float32, Float16, BFloat16, Int32, Int64 };

std::size_t dtype_size(DType dtype);
// Lower-case name as PyTorch spells it: "float32", "bfloat16", "int64".
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);

// Maps a C++ element type to its DType, for the typed accessors of Tensor.
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::Int32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType value = DType::Int64;
};

}  // namespace crunet
