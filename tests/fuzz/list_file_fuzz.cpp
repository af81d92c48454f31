// MXNet list files (index<TAB>label<TAB>path). Input: byte 0 picks `classes` (0: the largest
// label + 1); the list file follows. Images are not decoded (that is OpenCV's job, and a missing
// one is a BadSample at load time): the lines are parsed and every path is resolved.
#include "crunet/data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::int64_t classes = data[0] % 8;
  const std::string path = crunet::fuzz::write_scratch("train.lst", data + 1, size - 1);
  crunet::fuzz::expect_user_errors_only([&] {
    const crunet::data::ListFileDataset dataset(path, "", 3, classes);
    for (std::int64_t i = 0; i < dataset.size(); ++i) {
      (void)dataset.path(i);
      (void)dataset.label(i);
    }
    (void)dataset.describe();
    (void)dataset.classes();
  });
  return 0;
}
