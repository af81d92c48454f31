#pragma once
// Reading and writing the safetensors format (https://github.com/huggingface/safetensors), so that
// weights and checkpoints move to and from PyTorch:
//
//   [8 bytes: N, little-endian uint64] [N bytes: JSON header, padded with spaces] [byte buffer]
//
// The header maps each tensor name to {"dtype": "F32"|"F16"|"BF16"|"I32"|"I64", "shape": [...],
// "data_offsets": [begin, end)} with offsets relative to the byte buffer, plus an optional
// "__metadata__" object of string -> string. Tensor data are little-endian and row-major.
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crunet/core/tensor.h"

namespace crunet {

struct SafetensorsFile {
  // Where the tensors were read from, for messages.
  std::string path;
  // In the order of the file's header; every tensor is contiguous and on the CPU.
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;

  bool contains(const std::string& name) const;
  // The tensor of that name; throws UserError naming the file's tensors if there is none.
  const Tensor& at(const std::string& name) const;
};

// Writes the tensors (any device, any layout; written contiguous, in the order given) and the
// metadata to `path`. The file is written under a temporary name in the same folder, flushed to
// disk and renamed, so that a crash never leaves a partly written file at `path`.
// Throws ValueError for duplicate, empty or reserved ("__metadata__") names and undefined tensors,
// RuntimeError when the file cannot be written.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates a whole file. Throws UserError naming the file and what is wrong with it.
SafetensorsFile load_safetensors(const std::string& path);

// The dtype as the format spells it ("F32", "BF16", ...).
const char* safetensors_dtype_name(DType dtype);

}  // namespace crunet
