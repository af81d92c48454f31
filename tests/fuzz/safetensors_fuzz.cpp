// safetensors reader: header length, JSON, dtypes, shapes, offsets (overlap, holes, outside the
// file), metadata; then the checkpoint checks on top of it (format, CRC-32, trainer state).
#include "crunet/core/safetensors.h"
#include "crunet/train/checkpoint.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = crunet::fuzz::write_scratch("input.safetensors", data, size);
  crunet::fuzz::expect_user_errors_only([&] {
    const crunet::SafetensorsFile file = crunet::load_safetensors(path);
    for (const auto& [name, tensor] : file.tensors) (void)tensor.numel();
  });
  crunet::fuzz::expect_user_errors_only([&] { crunet::train::verify_checkpoint(path); });
  return 0;
}
