// IDX reader (MNIST / Fashion-MNIST), raw or gzipped. Input: byte 0 picks `classes` (0: from the
// labels), bytes 1-2 the length of the image file (little-endian, modulo what is left); the image
// file follows, then the label file.
#include <algorithm>

#include "crunet/data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::int64_t classes = data[0] % 12;
  const std::size_t rest = size - 3;
  const std::size_t split =
      std::min<std::size_t>(rest, static_cast<std::size_t>(data[1] | (data[2] << 8)));
  const std::string images = crunet::fuzz::write_scratch("images-idx3-ubyte", data + 3, split);
  const std::string labels =
      crunet::fuzz::write_scratch("labels-idx1-ubyte", data + 3 + split, rest - split);
  crunet::fuzz::expect_user_errors_only([&] {
    const auto dataset = crunet::data::load_idx(images, labels, classes);
    if (dataset->size() > 0) {
      (void)dataset->get(0);
      (void)dataset->get(dataset->size() - 1);
    }
    (void)dataset->describe();
  });
  return 0;
}
