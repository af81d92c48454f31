// MXNet's NDArray-list .params reader: the list header, each array's magic, storage type, ndim,
// dims, device and type flag, its data, the name list. The input is the file.
#include "crunet/core/mxnet_params.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  crunet::fuzz::expect_user_errors_only([&] {
    const std::vector<crunet::MxnetArray> arrays = crunet::parse_mxnet_params(data, size, "fuzz");
    for (const crunet::MxnetArray& array : arrays) {
      std::int64_t count = 1;
      for (std::int64_t dim : array.shape) count *= dim;
      if (count != static_cast<std::int64_t>(array.values.size())) {
        __builtin_trap();  // the values must be exactly what the shape says
      }
    }
  });
  return 0;
}
