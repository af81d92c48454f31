#pragma once
// MXNet's NDArray-list file, the `.params` of a checkpoint (mx.nd.save, Module.save_checkpoint),
// read without MXNet. The layout (little-endian; MXNet's src/ndarray/ndarray.cc and
// src/c_api/c_api.cc, checked against files MXNet 1.9.1 writes; docs/formats.md):
//
//   u64 0x112 (kMXAPINDArrayListMagic)   u64 reserved   u64 count   count x NDArray
//   u64 count of names   each name: u64 length, bytes ("arg:fc6_weight", "aux:..._moving_var")
//
//   NDArray (v2, 0xF993fac9; v3 0xF993faca the same with a signed ndim): u32 magic,
//   i32 storage type (0 dense), u32 ndim, ndim x i64 dims, i32 dev_type, i32 dev_id,
//   i32 type flag, the raw row-major data. v1 (0xF993fac8) has no storage type; the legacy
//   layout (no magic) starts with u32 ndim followed by u32 dims.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace crunet {

struct MxnetArray {
  std::string name;  // as stored, with its "arg:" / "aux:" prefix
  std::vector<std::int64_t> shape;
  std::string dtype;          // the stored type: "float32", "float64" or "float16"
  std::vector<float> values;  // converted to float32
};

// The arrays of a .params file held in memory. `source` names it in messages. Every count,
// length, dimension and data size is checked against the bytes that are left, so a truncated or
// hostile file is a UserError "source: byte N: what is wrong", never a crash or a huge allocation.
// Sparse arrays, integer types, a missing name list and duplicate names are UserErrors too.
std::vector<MxnetArray> parse_mxnet_params(const std::uint8_t* data, std::size_t size,
                                           const std::string& source);
// Reads and parses a file; a missing or unreadable file is a UserError.
std::vector<MxnetArray> read_mxnet_params(const std::string& path);

}  // namespace crunet
