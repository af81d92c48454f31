// The loader: determinism whatever the worker count, sharding, resume, bad samples, shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

#include "crunet/data.h"
#include "data_test_util.h"

namespace crunet::data {
namespace {

using testing::pattern_image;
using testing::read_bytes;
using testing::save;
using testing::TempDir;
using testing::write_bytes;
using testing::write_text;

// Small generated images; the indices in `bad` throw BadSample as a corrupt file would.
class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(std::int64_t size, std::set<std::int64_t> bad = {})
      : size_(size), bad_(std::move(bad)) {}
  std::int64_t size() const override { return size_; }
  Example get(std::int64_t index) const override {
    if (bad_.count(index)) throw BadSample(sample_name(index), "corrupt JPEG data");
    Example example;
    example.image = make_image(6, 5, 3);
    for (std::size_t k = 0; k < example.image.pixels.size(); ++k) {
      example.image.pixels[k] = static_cast<std::uint8_t>((index * 13 + k * 3) % 256);
    }
    example.label = index % 7;
    return example;
  }
  std::int64_t classes() const override { return 7; }
  std::string describe() const override { return "synthetic (" + std::to_string(size_) + ")"; }
  std::string sample_name(std::int64_t index) const override {
    return "synthetic/" + std::to_string(index) + ".png";
  }

 private:
  std::int64_t size_;
  std::set<std::int64_t> bad_;
};

// The real augmentation, with every random part switched on.
std::shared_ptr<Transform> small_augmentation() {
  TrainTransformParams params;
  params.crop = TrainCrop::PadRandom;
  params.pad = 1;
  params.size = 5;
  return std::make_shared<TrainTransform>(params, Normalization{});
}

LoaderOptions options(std::int64_t batch, int workers, bool train, std::uint64_t seed = 5) {
  LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.shuffle = train;
  o.drop_last = train;
  o.seed = seed;
  o.prefetch_batches = 2;
  return o;
}

struct Plain {  // a batch as plain vectors, to compare
  std::vector<float> images;
  Shape shape;
  std::vector<std::int64_t> labels, indices;
  bool operator==(const Plain& o) const {
    return images == o.images && shape == o.shape && labels == o.labels && indices == o.indices;
  }
};

std::vector<Plain> epoch(DataLoader& loader, std::int64_t number, std::int64_t skip = 0) {
  loader.start_epoch(number, skip);
  std::vector<Plain> out;
  Batch batch;
  while (loader.next(batch)) {
    out.push_back({batch.images.to_vector(), batch.images.shape(), batch.labels.to_int64_vector(),
                   batch.indices});
  }
  return out;
}

std::vector<std::int64_t> all_indices(const std::vector<Plain>& batches) {
  std::vector<std::int64_t> out;
  for (const Plain& b : batches) out.insert(out.end(), b.indices.begin(), b.indices.end());
  return out;
}

TEST(Loader, SameSeedSameBatchesWhateverTheWorkerCount) {
  auto dataset = std::make_shared<SyntheticDataset>(50);
  DataLoader reference(dataset, small_augmentation(), options(8, 0, true));
  const std::vector<Plain> epoch0 = epoch(reference, 0), epoch1 = epoch(reference, 1);
  ASSERT_EQ(epoch0.size(), 6u);
  EXPECT_EQ(epoch0[0].shape, (Shape{8, 3, 5, 5}));
  EXPECT_NE(all_indices(epoch0), all_indices(epoch1));  // a new order each epoch
  for (int workers : {1, 3}) {
    DataLoader loader(dataset, small_augmentation(), options(8, workers, true));
    EXPECT_TRUE(epoch(loader, 0) == epoch0) << workers << " workers";
    EXPECT_TRUE(epoch(loader, 1) == epoch1) << workers << " workers";
  }
  DataLoader other_seed(dataset, small_augmentation(), options(8, 2, true, 6));
  EXPECT_NE(all_indices(epoch(other_seed, 0)), all_indices(epoch0));
  // Labels and indices travel together.
  for (const Plain& b : epoch0) {
    for (std::size_t i = 0; i < b.indices.size(); ++i) EXPECT_EQ(b.labels[i], b.indices[i] % 7);
  }
}

TEST(Loader, AugmentationDependsOnTheSampleNotOnItsPosition) {
  auto dataset = std::make_shared<SyntheticDataset>(20);
  const auto transform = small_augmentation();
  DataLoader loader(dataset, transform, options(4, 2, true));
  const std::vector<Plain> batches = epoch(loader, 3);
  for (const Plain& b : batches) {
    for (std::size_t i = 0; i < b.indices.size(); ++i) {
      Generator rng(DataLoader::sample_seed(5, 3, b.indices[i]));
      const std::vector<float> want =
          transform->apply(dataset->get(b.indices[i]).image, rng).to_vector();
      const std::vector<float> got(
          b.images.begin() + static_cast<std::ptrdiff_t>(i * want.size()),
          b.images.begin() + static_cast<std::ptrdiff_t>((i + 1) * want.size()));
      EXPECT_EQ(got, want);
    }
  }
}

TEST(Loader, EvaluationIsInIndexOrderWithAShortLastBatch) {
  auto dataset = std::make_shared<SyntheticDataset>(50);
  DataLoader loader(dataset, small_augmentation(), options(8, 2, false));
  EXPECT_EQ(loader.batches_per_epoch(), 7);
  EXPECT_EQ(loader.samples_per_epoch(), 50);
  const std::vector<Plain> batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 7u);
  EXPECT_EQ(batches.back().shape, (Shape{2, 3, 5, 5}));
  std::vector<std::int64_t> expected(50);
  for (std::int64_t i = 0; i < 50; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(all_indices(batches), expected);
}

TEST(Loader, EvaluationShardsAreDisjointAndCoverEverySampleOnce) {
  auto dataset = std::make_shared<SyntheticDataset>(50);
  std::vector<std::int64_t> seen;
  for (int rank = 0; rank < 3; ++rank) {
    LoaderOptions o = options(8, 1, false);
    o.rank = rank;
    o.world_size = 3;
    DataLoader loader(dataset, small_augmentation(), o);
    EXPECT_EQ(loader.samples_per_epoch(), rank < 2 ? 17 : 16);
    EXPECT_EQ(loader.batches_per_epoch(), rank < 2 ? 3 : 2);  // 17 or 16 samples, batches of 8
    const std::vector<std::int64_t> mine = all_indices(epoch(loader, 0));
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    seen.insert(seen.end(), mine.begin(), mine.end());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<std::int64_t> expected(50);
  for (std::int64_t i = 0; i < 50; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(seen, expected);  // every sample exactly once, no padding
}

TEST(Loader, TrainingShardsAreDisjointWithEqualBatchCounts) {
  auto dataset = std::make_shared<SyntheticDataset>(50);
  for (std::int64_t e : {0, 1}) {
    std::set<std::int64_t> seen;
    std::size_t total = 0;
    for (int rank = 0; rank < 3; ++rank) {
      LoaderOptions o = options(4, 2, true);
      o.rank = rank;
      o.world_size = 3;
      DataLoader loader(dataset, small_augmentation(), o);
      EXPECT_EQ(loader.samples_per_epoch(), 16);
      EXPECT_EQ(loader.batches_per_epoch(), 4);
      const std::vector<Plain> batches = epoch(loader, e);
      EXPECT_EQ(batches.size(), 4u);
      const std::vector<std::int64_t> mine = all_indices(batches);
      EXPECT_EQ(DataLoader::epoch_order(50, o, e), mine);
      seen.insert(mine.begin(), mine.end());
      total += mine.size();
    }
    EXPECT_EQ(total, 48u);
    EXPECT_EQ(seen.size(), 48u);  // disjoint; the 2 left over change from epoch to epoch
  }
  // The union over ranks of the shuffled order is the whole dataset once the remainder is 0.
  std::set<std::int64_t> all;
  for (int rank = 0; rank < 5; ++rank) {
    LoaderOptions o = options(2, 0, true);
    o.rank = rank;
    o.world_size = 5;
    for (std::int64_t i : DataLoader::epoch_order(50, o, 7)) EXPECT_TRUE(all.insert(i).second);
  }
  EXPECT_EQ(all.size(), 50u);
}

TEST(Loader, SkippingBatchesResumesExactlyMidEpoch) {
  auto dataset = std::make_shared<SyntheticDataset>(45);
  DataLoader loader(dataset, small_augmentation(), options(4, 3, true));
  const std::vector<Plain> full = epoch(loader, 2);
  ASSERT_EQ(full.size(), 11u);
  const std::vector<Plain> tail = epoch(loader, 2, 7);
  ASSERT_EQ(tail.size(), 4u);
  for (std::size_t i = 0; i < tail.size(); ++i) EXPECT_TRUE(tail[i] == full[7 + i]);
  EXPECT_TRUE(epoch(loader, 2, 11).empty());
  EXPECT_THROW(loader.start_epoch(2, 12), ValueError);
}

TEST(Loader, RestartingOrDestroyingMidEpochIsClean) {
  auto dataset = std::make_shared<SyntheticDataset>(200);
  DataLoader fresh(dataset, small_augmentation(), options(4, 0, true));
  const std::vector<Plain> epoch1 = epoch(fresh, 1);
  {
    DataLoader loader(dataset, small_augmentation(), options(4, 3, true));
    loader.start_epoch(0);
    Batch batch;
    ASSERT_TRUE(loader.next(batch));
    EXPECT_TRUE(epoch(loader, 1) == epoch1);  // the abandoned epoch leaves no trace
    loader.start_epoch(2);
    ASSERT_TRUE(loader.next(batch));
  }  // destroyed with workers busy and batches queued
  DataLoader never_started(dataset, small_augmentation(), options(4, 3, true));
}

TEST(Loader, BadSamplesAreSkippedWithOneWarningEachAndReplacedDeterministically) {
  auto dataset = std::make_shared<SyntheticDataset>(40, std::set<std::int64_t>{5, 17, 18});
  LoaderOptions o = options(8, 2, false);
  o.max_bad_fraction = 0.1;  // 4 of 40 allowed
  std::vector<Plain> first, second;
  ::testing::internal::CaptureStdout();
  {
    DataLoader loader(dataset, small_augmentation(), o);
    first = epoch(loader, 0);
    second = epoch(loader, 1);
    EXPECT_EQ(loader.bad_samples(), (std::vector<std::string>{"synthetic/5.png", "synthetic/17.png",
                                                              "synthetic/18.png"}));
  }
  const std::string log = ::testing::internal::GetCapturedStdout();
  for (const std::string name : {"synthetic/5.png", "synthetic/17.png", "synthetic/18.png"}) {
    const std::size_t at = log.find(name);
    EXPECT_NE(at, std::string::npos) << "no warning names " << name;
    EXPECT_EQ(log.find(name, at + 1), std::string::npos) << name << " warned twice";
  }
  const std::vector<std::int64_t> used = all_indices(first);
  ASSERT_EQ(used.size(), 40u);
  EXPECT_EQ(used[5], 6);  // the next readable sample stands in
  EXPECT_EQ(used[17], 19);
  EXPECT_EQ(used[18], 19);
  EXPECT_EQ(all_indices(second), used);  // the same stand-ins every epoch
  o.workers = 0;
  DataLoader inline_loader(dataset, small_augmentation(), o);
  EXPECT_TRUE(epoch(inline_loader, 0) == first);
}

TEST(Loader, TooManyBadSamplesStopWithAClearError) {
  auto dataset = std::make_shared<SyntheticDataset>(40, std::set<std::int64_t>{1, 2, 3, 4, 5});
  for (int workers : {0, 2}) {
    LoaderOptions o = options(8, workers, true);
    o.max_bad_fraction = 0.1;  // 4 allowed, 5 bad
    DataLoader loader(dataset, small_augmentation(), o);
    ::testing::internal::CaptureStdout();
    std::string message;
    try {
      epoch(loader, 0);
    } catch (const RuntimeError& e) {
      message = e.what();
    }
    ::testing::internal::GetCapturedStdout();
    EXPECT_NE(message.find("5 unreadable samples in synthetic (40), more than max_bad_fraction"),
              std::string::npos)
        << "workers " << workers << ": '" << message << "'";
    // It stays stopped.
    EXPECT_THROW(epoch(loader, 1), RuntimeError);
  }
}

// A transform that fails on one sample with an error that is not a bad file.
class FailingTransform : public Transform {
 public:
  Tensor apply(const Image& image, Generator& rng) const override {
    if (image.pixels[0] == (7 * 13) % 256) throw ValueError("transform failed on sample 7");
    return to_tensor(image, Normalization{});
  }
};

TEST(Loader, OtherErrorsReachTheCallerAndEndTheEpoch) {
  auto dataset = std::make_shared<SyntheticDataset>(30);
  for (int workers : {0, 3}) {
    DataLoader loader(dataset, std::make_shared<FailingTransform>(), options(4, workers, false));
    loader.start_epoch(0);
    Batch batch;
    ASSERT_TRUE(loader.next(batch));                          // samples 0-3
    EXPECT_THROW(loader.next(batch), ValueError) << workers;  // samples 4-7
    EXPECT_FALSE(loader.next(batch));
    loader.start_epoch(0, 2);  // after the failing batch: fine again
    ASSERT_TRUE(loader.next(batch));
    EXPECT_EQ(batch.indices.front(), 8);
  }
}

TEST(Loader, OptionsAreChecked) {
  auto dataset = std::make_shared<SyntheticDataset>(10);
  auto transform = small_augmentation();
  LoaderOptions o = options(0, 1, true);
  EXPECT_THROW(DataLoader(dataset, transform, o), ValueError);
  o = options(4, 1, true);
  o.rank = 2;
  o.world_size = 2;
  EXPECT_THROW(DataLoader(dataset, transform, o), ValueError);
  o = options(4, -1, true);
  EXPECT_THROW(DataLoader(dataset, transform, o), ValueError);
  EXPECT_THROW(DataLoader(std::make_shared<SyntheticDataset>(0), transform, options(4, 1, true)),
               ValueError);
  DataLoader loader(dataset, transform, options(4, 1, true));
  Batch batch;
  EXPECT_THROW(loader.next(batch), ValueError);  // no epoch started
  o = options(4, 1, true);
  o.pin_memory = true;  // accepted
  EXPECT_NO_THROW(DataLoader(dataset, transform, o));
}

TEST(Loader, ImageFolderWithBrokenFilesKeepsGoing) {
  if (!image_files_supported()) GTEST_SKIP() << "built without OpenCV";
  TempDir dir;
  for (int i = 0; i < 30; ++i) {
    save(dir / ((i % 2 ? "b/" : "a/") + std::to_string(i) + ".png"), pattern_image(20, 24, 3, i));
  }
  save(dir / "a/good.jpg", pattern_image(20, 24, 3));
  const std::vector<std::uint8_t> jpeg = read_bytes(dir / "a/good.jpg");
  write_bytes(dir / "a/truncated.jpg",
              std::vector<std::uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  write_text(dir / "b/garbage.jpg", "not an image");
  auto dataset = std::make_shared<ImageFolderDataset>(dir.path());
  ASSERT_EQ(dataset->size(), 33);
  TrainTransformParams params;
  params.size = 16;
  LoaderOptions o = options(4, 2, true);
  o.max_bad_fraction = 0.1;
  ::testing::internal::CaptureStdout();
  DataLoader loader(dataset, std::make_shared<TrainTransform>(params, Normalization{}), o);
  std::int64_t samples = 0;
  for (std::int64_t e = 0; e < 3; ++e) {
    for (const Plain& b : epoch(loader, e)) samples += static_cast<std::int64_t>(b.indices.size());
  }
  const std::string log = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(samples, 3 * 32);
  for (const std::string name : {dir / "a/truncated.jpg", dir / "b/garbage.jpg"}) {
    const std::size_t at = log.find(name);
    EXPECT_NE(at, std::string::npos) << log;
    EXPECT_EQ(log.find(name, at + 1), std::string::npos) << log;
  }
  EXPECT_EQ(loader.bad_samples().size(), 2u);
}

// A dataset whose get() waits until `expected` calls are running at once (or a timeout passes),
// and records the most it saw: it proves every worker has a batch to build.
class RendezvousDataset : public SyntheticDataset {
 public:
  RendezvousDataset(std::int64_t size, int expected)
      : SyntheticDataset(size), expected_(expected) {}
  Example get(std::int64_t index) const override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ++running_;
      most_running_ = std::max(most_running_, running_);
      changed_.notify_all();
      changed_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return most_running_ >= expected_; });
      --running_;
    }
    return SyntheticDataset::get(index);
  }
  int most_running() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return most_running_;
  }

 private:
  int expected_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable int running_ = 0, most_running_ = 0;
};

TEST(Loader, EveryWorkerBuildsABatchEvenWithFewerPrefetchBatches) {
  // 4 workers, prefetch_batches 1: the paper configs' workers 8 / prefetch 4 in small.
  auto dataset = std::make_shared<RendezvousDataset>(16, 4);
  LoaderOptions o = options(1, 4, false);
  o.prefetch_batches = 1;
  DataLoader loader(dataset, small_augmentation(), o);
  const std::vector<Plain> batches = epoch(loader, 0);
  EXPECT_EQ(batches.size(), 16u);
  EXPECT_EQ(dataset->most_running(), 4) << "fewer workers than configured were decoding at once";
}

}  // namespace
}  // namespace crunet::data
