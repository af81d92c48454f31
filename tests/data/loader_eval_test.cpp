// The loader for evaluation: every worker busy whatever prefetch_batches says, unreadable
// samples left out (not replaced), and several crops of one image per sample.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

#include "crunet/data.h"

namespace crunet::data {
namespace {

// Small generated images; the indices in `bad` throw BadSample as a corrupt file would.
class SmallDataset : public Dataset {
 public:
  explicit SmallDataset(std::int64_t size, std::set<std::int64_t> bad = {})
      : size_(size), bad_(std::move(bad)) {}
  std::int64_t size() const override { return size_; }
  Example get(std::int64_t index) const override {
    if (bad_.count(index)) throw BadSample(sample_name(index), "corrupt JPEG data");
    Example example;
    example.image = make_image(12, 10, 3);
    for (std::size_t k = 0; k < example.image.pixels.size(); ++k) {
      example.image.pixels[k] = static_cast<std::uint8_t>((index * 13 + k * 3) % 256);
    }
    example.label = index % 5;
    return example;
  }
  std::int64_t classes() const override { return 5; }
  std::string describe() const override { return "small (" + std::to_string(size_) + ")"; }
  std::string sample_name(std::int64_t index) const override {
    return "small/" + std::to_string(index) + ".jpg";
  }

 private:
  std::int64_t size_;
  std::set<std::int64_t> bad_;
};

// Each get() waits until `goal` calls run at once (or 3 s pass) and records the most that did.
class ConcurrencyDataset : public SmallDataset {
 public:
  ConcurrencyDataset(std::int64_t size, int goal) : SmallDataset(size), goal_(goal) {}
  Example get(std::int64_t index) const override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ++running_;
      peak_ = std::max(peak_, running_);
      changed_.notify_all();
      changed_.wait_for(lock, std::chrono::seconds(3), [&] { return peak_ >= goal_; });
      --running_;
    }
    return SmallDataset::get(index);
  }
  int peak() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }

 private:
  int goal_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable int running_ = 0;
  mutable int peak_ = 0;
};

LoaderOptions eval_options(std::int64_t batch, int workers) {
  LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.shuffle = false;
  o.drop_last = false;
  return o;
}

std::shared_ptr<EvalTransform> small_eval() {
  EvalTransformParams params;
  params.resize = 8;
  params.size = 6;
  return std::make_shared<EvalTransform>(params, Normalization{});
}

TEST(LoaderWorkers, EightWorkersWithFourPrefetchedBatchesAllDecodeAtOnce) {
  // Batches of one sample: with at most prefetch_batches (4) batches in flight, only four of the
  // eight workers could ever be decoding.
  auto dataset = std::make_shared<ConcurrencyDataset>(32, 8);
  LoaderOptions o = eval_options(1, 8);
  o.prefetch_batches = 4;
  DataLoader loader(dataset, small_eval(), o);
  loader.start_epoch(0);
  Batch batch;
  std::int64_t seen = 0;
  while (loader.next(batch)) seen += batch.labels.numel();
  EXPECT_EQ(seen, 32);
  EXPECT_EQ(dataset->peak(), 8);
}

TEST(LoaderSkipBad, UnreadableSamplesAreLeftOutAndCountedNotReplaced) {
  // 0..9 bad at 3 and 8, 9 (the whole last batch of [8, 9]).
  auto dataset = std::make_shared<SmallDataset>(10, std::set<std::int64_t>{3, 8, 9});
  for (int workers : {0, 3}) {
    LoaderOptions o = eval_options(4, workers);
    o.skip_bad = true;
    o.max_bad_fraction = 0.5;
    DataLoader loader(dataset, small_eval(), o);
    ::testing::internal::CaptureStdout();
    loader.start_epoch(0);
    Batch batch;
    std::vector<std::int64_t> used, sizes;
    while (loader.next(batch)) {
      ASSERT_EQ(batch.images.size(0), batch.labels.numel());
      sizes.push_back(batch.labels.numel());
      used.insert(used.end(), batch.indices.begin(), batch.indices.end());
    }
    ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(used, (std::vector<std::int64_t>{0, 1, 2, 4, 5, 6, 7})) << workers;
    EXPECT_EQ(sizes, (std::vector<std::int64_t>{3, 4})) << workers;
    EXPECT_EQ(loader.bad_samples(),
              (std::vector<std::string>{"small/3.jpg", "small/8.jpg", "small/9.jpg"}))
        << workers;
  }
}

TEST(LoaderTenCrop, SamplesOfTenCropsMatchEvalTransformTenCrop) {
  auto dataset = std::make_shared<SmallDataset>(5);
  auto eval = small_eval();
  for (int workers : {0, 2}) {
    DataLoader loader(dataset, std::make_shared<TenCropTransform>(eval), eval_options(2, workers));
    loader.start_epoch(0);
    Batch batch;
    std::int64_t sample = 0;
    while (loader.next(batch)) {
      ASSERT_EQ(batch.images.shape(), (Shape{batch.labels.numel(), 10, 3, 6, 6}));
      const std::vector<float> values = batch.images.to_vector();
      for (std::int64_t i = 0; i < batch.labels.numel(); ++i, ++sample) {
        const std::vector<Tensor> crops = eval->ten_crop(dataset->get(sample).image);
        for (std::int64_t k = 0; k < 10; ++k) {
          const std::vector<float> expected = crops[static_cast<std::size_t>(k)].to_vector();
          const auto offset = static_cast<std::ptrdiff_t>((i * 10 + k) * 3 * 6 * 6);
          EXPECT_TRUE(std::equal(expected.begin(), expected.end(), values.begin() + offset))
              << "sample " << sample << " crop " << k;
        }
      }
    }
    EXPECT_EQ(sample, 5);
  }
}

}  // namespace
}  // namespace crunet::data
