// The loader. Each worker thread claims the next batch number, builds the whole batch (decode,
// augment, copy into the batch tensor) and files it under its number; next() hands the batches
// out in number order. A batch is claimed only while fewer than max(prefetch_batches, workers)
// are in flight or waiting, which bounds memory and keeps every worker busy. A batch's content
// is a function of (seed, epoch, rank, batch number) alone: the epoch's order comes from a
// Generator seeded by (seed, epoch), each sample's augmentation from one seeded by (seed, epoch,
// sample index), and a bad sample's stand-in from the sample index. So the worker count and thread scheduling never change a bit of it.
#include "crunet/data/loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "crunet/core/pinned.h"

namespace crunet::data {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  return splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(epoch));
}

bool equal_shards(const LoaderOptions& options) { return options.shuffle || options.drop_last; }

void check_options(const LoaderOptions& o) {
  auto fail = [](const std::string& message) { throw ValueError("DataLoader: " + message); };
  if (o.batch_size <= 0) fail("batch_size must be positive");
  if (o.workers < 0) fail("workers must not be negative");
  if (o.prefetch_batches < 1) fail("prefetch_batches must be at least 1");
  if (o.world_size < 1) fail("world_size must be at least 1");
  if (o.rank < 0 || o.rank >= o.world_size) {
    fail("rank " + std::to_string(o.rank) + " is outside [0, " + std::to_string(o.world_size) +
         ")");
  }
  if (!(o.max_bad_fraction >= 0 && o.max_bad_fraction <= 1)) {
    fail("max_bad_fraction must be in [0, 1]");
  }
}

std::int64_t shard_size(std::int64_t size, const LoaderOptions& o) {
  if (equal_shards(o)) return size / o.world_size;
  return size / o.world_size + (o.rank < size % o.world_size ? 1 : 0);
}

}  // namespace

std::uint64_t DataLoader::sample_seed(std::uint64_t seed, std::int64_t epoch, std::int64_t index) {
  return splitmix64(epoch_seed(seed, epoch) ^
                    splitmix64(static_cast<std::uint64_t>(index) + 0x632BE59BD9B4E019ULL));
}

std::vector<std::int64_t> DataLoader::epoch_order(std::int64_t dataset_size,
                                                  const LoaderOptions& options,
                                                  std::int64_t epoch) {
  check_options(options);
  std::vector<std::int64_t> all(static_cast<std::size_t>(dataset_size));
  std::iota(all.begin(), all.end(), std::int64_t{0});
  if (options.shuffle) {
    Generator rng(epoch_seed(options.seed, epoch));
    for (std::int64_t i = dataset_size - 1; i > 0; --i) {
      const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
      std::swap(all[static_cast<std::size_t>(i)], all[static_cast<std::size_t>(j)]);
    }
  }
  const std::int64_t count = shard_size(dataset_size, options);
  std::vector<std::int64_t> mine(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    mine[static_cast<std::size_t>(i)] =
        all[static_cast<std::size_t>(options.rank + i * options.world_size)];
  }
  return mine;
}

struct DataLoader::Impl {
  struct Plan {
    std::int64_t epoch = 0;
    std::vector<std::int64_t> order;
  };
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };

  std::shared_ptr<const Dataset> dataset;
  std::shared_ptr<const Transform> transform;
  LoaderOptions options;
  std::int64_t batches = 0;
  std::int64_t samples = 0;

  std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable batch_ready;
  std::uint64_t generation = 0;
  std::shared_ptr<const Plan> plan;
  std::int64_t next_claim = 0;
  std::int64_t next_deliver = 0;
  std::int64_t end = 0;
  std::map<std::int64_t, Result> ready;
  bool stopping = false;
  std::vector<std::thread> threads;

  std::mutex bad_mutex;
  // Unreadable samples by index: workers finish in any order, bad_samples() lists them in order.
  std::map<std::int64_t, std::string> bad;
  std::string too_many_bad;  // once set, every batch fails with it

  // Batches claimed but not yet delivered, at most: at least one per worker.
  std::int64_t in_flight_limit() const {
    return std::max(options.prefetch_batches, options.workers);
  }

  bool known_bad(std::int64_t index) {
    std::lock_guard<std::mutex> lock(bad_mutex);
    return bad.count(index) > 0;
  }

  // Notes a bad sample: one warning per file; too many stop the loader.
  void record_bad(std::int64_t index, const BadSample& error) {
    std::lock_guard<std::mutex> lock(bad_mutex);
    if (!bad.emplace(index, error.path()).second) return;
    spdlog::warn(options.skip_bad ? "data: skipping unreadable sample {} (left out)"
                                  : "data: skipping unreadable sample {} (another sample takes its place)",
                 error.what());
    const double allowed = options.max_bad_fraction * static_cast<double>(dataset->size());
    if (static_cast<double>(bad.size()) > allowed) {
      too_many_bad =
          "data: " + std::to_string(bad.size()) + " unreadable samples in " + dataset->describe() +
          ", more than max_bad_fraction " + std::to_string(options.max_bad_fraction) + " allows (" +
          std::to_string(static_cast<std::int64_t>(allowed)) + "); the latest: " + error.what();
      throw RuntimeError(too_many_bad);
    }
  }

  // The sample at `index`, or, when it is unreadable, the next readable one after it; with
  // skip_bad, false when it is unreadable.
  bool load(std::int64_t index, std::int64_t& used, Example& example) {
    if (options.skip_bad) {
      if (known_bad(index)) return false;
      try {
        example = dataset->get(index);
        used = index;
        return true;
      } catch (const BadSample& error) {
        record_bad(index, error);
        return false;
      }
    }
    const std::int64_t size = dataset->size();
    std::int64_t candidate = index;
    for (std::int64_t step = 0; step < size; ++step) {
      if (!known_bad(candidate)) {
        try {
          example = dataset->get(candidate);
          used = candidate;
          return true;
        } catch (const BadSample& error) {
          record_bad(candidate, error);
        }
      }
      candidate = (candidate + 1) % size;
    }
    throw RuntimeError("data: no readable sample in " + dataset->describe());
  }

  Batch make_batch(const Plan& p, std::int64_t number) {
    {
      std::lock_guard<std::mutex> lock(bad_mutex);
      if (!too_many_bad.empty()) throw RuntimeError(too_many_bad);
    }
    const std::int64_t begin = number * options.batch_size;
    std::int64_t count = std::min<std::int64_t>(
        options.batch_size, static_cast<std::int64_t>(p.order.size()) - begin);
    Batch batch;
    batch.indices.reserve(static_cast<std::size_t>(count));
    std::vector<std::int64_t> labels;
    labels.reserve(static_cast<std::size_t>(count));
    float* out = nullptr;
    std::int64_t sample_numel = 0;
    Shape sample_shape;
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t index = p.order[static_cast<std::size_t>(begin + i)];
      Generator rng(sample_seed(options.seed, p.epoch, index));
      std::int64_t used = index;
      Example example;
      if (!load(index, used, example)) continue;  // skip_bad: left out of the batch
      Tensor image = transform->apply(example.image, rng);
      if (image.dtype() != DType::Float32 || (image.dim() != 3 && image.dim() != 4) ||
          !image.device().is_cpu()) {
        throw ValueError(
            "DataLoader: the transform must return a float32 [C, H, W] or [K, C, H, W] CPU "
            "tensor, got " +
            image.description());
      }
      image = image.contiguous();
      const std::int64_t filled = static_cast<std::int64_t>(labels.size());
      if (filled == 0) {
        sample_shape = image.shape();
        Shape shape = sample_shape;
        shape.insert(shape.begin(), count);
        batch.images = options.pin_memory ? empty_pinned(shape) : empty(shape);
        out = batch.images.data<float>();
        sample_numel = image.numel();
      } else if (image.shape() != sample_shape) {
        throw ValueError("DataLoader: samples of one batch differ in shape: " +
                         shape_str(image.shape()) + " (" + dataset->sample_name(used) + ") vs " +
                         shape_str(sample_shape) + "; crop to a fixed size or use batch size 1");
      }
      std::memcpy(out + filled * sample_numel, image.data<float>(),
                  static_cast<std::size_t>(sample_numel) * sizeof(float));
      labels.push_back(example.label);
      batch.indices.push_back(used);
    }
    const auto filled = static_cast<std::int64_t>(labels.size());
    if (filled == 0) return batch;  // every sample unreadable (skip_bad): no batch
    if (filled < count) {  // skip_bad left samples out: a shorter copy
      Shape shape = sample_shape;
      shape.insert(shape.begin(), filled);
      Tensor shorter = options.pin_memory ? empty_pinned(shape) : empty(shape);
      std::memcpy(shorter.data<float>(), out,
                  static_cast<std::size_t>(filled * sample_numel) * sizeof(float));
      batch.images = std::move(shorter);
    }
    count = filled;
    if (options.pin_memory) {
      batch.labels = empty_pinned({count}, DType::Int64);
      std::memcpy(batch.labels.data_ptr(), labels.data(), labels.size() * sizeof(std::int64_t));
    } else {
      batch.labels = from_int64_vector(labels, {count});
    }
    return batch;
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      work_ready.wait(lock, [&] {
        return stopping ||
               (plan && next_claim < end && next_claim < next_deliver + in_flight_limit());
      });
      if (stopping) return;
      const std::int64_t number = next_claim++;
      const std::uint64_t mine = generation;
      const std::shared_ptr<const Plan> p = plan;
      lock.unlock();
      Result result;
      try {
        result.batch = make_batch(*p, number);
      } catch (...) {
        result.error = std::current_exception();
      }
      lock.lock();
      if (mine == generation) {
        ready.emplace(number, std::move(result));
        batch_ready.notify_all();
      }
    }
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset,
                       std::shared_ptr<const Transform> transform, LoaderOptions options)
    : options_(options), impl_(std::make_unique<Impl>()) {
  if (!dataset) throw ValueError("DataLoader: no dataset");
  if (!transform) throw ValueError("DataLoader: no transform");
  check_options(options_);
  // Pinning is a hint for GPU training: where no GPU is usable there is no pinned memory, and the
  // batches are ordinary host memory (as PyTorch's DataLoader does).
  if (options_.pin_memory && !cuda_is_available()) options_.pin_memory = false;
  if (dataset->size() <= 0)
    throw ValueError("DataLoader: the dataset is empty: " + dataset->describe());
  impl_->dataset = std::move(dataset);
  impl_->transform = std::move(transform);
  impl_->options = options_;
  impl_->samples = shard_size(impl_->dataset->size(), options_);
  impl_->batches = options_.drop_last
                       ? impl_->samples / options_.batch_size
                       : (impl_->samples + options_.batch_size - 1) / options_.batch_size;
  for (int i = 0; i < options_.workers; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->work(); });
  }
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->work_ready.notify_all();
  impl_->batch_ready.notify_all();
  for (std::thread& thread : impl_->threads) thread.join();
}

std::int64_t DataLoader::batches_per_epoch() const { return impl_->batches; }
std::int64_t DataLoader::samples_per_epoch() const { return impl_->samples; }

std::vector<std::string> DataLoader::bad_samples() const {
  std::lock_guard<std::mutex> lock(impl_->bad_mutex);
  std::vector<std::string> names;
  names.reserve(impl_->bad.size());
  for (const auto& entry : impl_->bad) names.push_back(entry.second);
  return names;
}

void DataLoader::start_epoch(std::int64_t epoch, std::int64_t skip_batches) {
  if (epoch < 0) throw ValueError("DataLoader::start_epoch: epoch must not be negative");
  if (skip_batches < 0 || skip_batches > impl_->batches) {
    throw ValueError("DataLoader::start_epoch: cannot skip " + std::to_string(skip_batches) +
                     " batches of an epoch of " + std::to_string(impl_->batches));
  }
  auto plan = std::make_shared<Impl::Plan>();
  plan->epoch = epoch;
  plan->order = epoch_order(impl_->dataset->size(), options_, epoch);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    ++impl_->generation;
    impl_->ready.clear();
    impl_->plan = std::move(plan);
    impl_->next_claim = impl_->next_deliver = skip_batches;
    impl_->end = impl_->batches;
  }
  impl_->work_ready.notify_all();
}

bool DataLoader::next(Batch& batch) {
  // A batch whose samples were all left out (skip_bad) is empty: the next one comes instead.
  while (next_made(batch)) {
    if (!batch.indices.empty()) return true;
  }
  return false;
}

bool DataLoader::next_made(Batch& batch) {
  Impl& impl = *impl_;
  if (options_.workers == 0) {
    if (!impl.plan) throw ValueError("DataLoader::next: call start_epoch() first");
    if (impl.next_deliver >= impl.end) return false;
    const std::int64_t number = impl.next_deliver++;
    try {
      batch = impl.make_batch(*impl.plan, number);
    } catch (...) {
      impl.next_deliver = impl.end;  // the epoch ends with its error
      throw;
    }
    return true;
  }
  std::unique_lock<std::mutex> lock(impl.mutex);
  if (!impl.plan) throw ValueError("DataLoader::next: call start_epoch() first");
  if (impl.next_deliver >= impl.end) return false;
  impl.batch_ready.wait(lock,
                        [&] { return impl.stopping || impl.ready.count(impl.next_deliver) > 0; });
  if (impl.stopping) return false;
  auto it = impl.ready.find(impl.next_deliver);
  Impl::Result result = std::move(it->second);
  impl.ready.erase(it);
  ++impl.next_deliver;
  if (result.error) {
    // The epoch ends with its error: drop the rest and let the workers idle.
    ++impl.generation;
    impl.ready.clear();
    impl.next_claim = impl.next_deliver = impl.end;
    lock.unlock();
    std::rethrow_exception(result.error);
  }
  lock.unlock();
  impl.work_ready.notify_all();
  batch = std::move(result.batch);
  return true;
}

}  // namespace crunet::data
