// pin_memory where no GPU is usable: a hint that is dropped, never an error (tests/gpu covers the
// pinned batches themselves).
#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet::data {
namespace {

class Brightness : public Transform {
 public:
  Tensor apply(const Image& image, Generator&) const override {
    return full({1, 1, 1}, static_cast<double>(image.pixels.at(0)));
  }
};

TEST(PinMemory, WithoutAGpuBatchesAreOrdinaryHostMemory) {
  if (cuda_is_available()) GTEST_SKIP() << "this machine has a GPU (tests/gpu covers pinning)";
  auto dataset = std::make_shared<MemoryDataset>(1, 1, 1, std::vector<std::uint8_t>{1, 2, 3, 4},
                                                 std::vector<std::int64_t>{0, 1, 0, 1}, 2, "four");
  LoaderOptions options;
  options.batch_size = 2;
  options.shuffle = false;
  options.pin_memory = true;
  DataLoader loader(dataset, std::make_shared<Brightness>(), options);
  EXPECT_FALSE(loader.options().pin_memory);
  loader.start_epoch(0);
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_FALSE(is_pinned(batch.images));
  EXPECT_EQ(batch.images.to_vector(), (std::vector<float>{1, 2}));
}

}  // namespace
}  // namespace crunet::data
