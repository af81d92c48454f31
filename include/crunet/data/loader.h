#pragma once
// The loader: worker threads decode, augment and assemble whole batches into a bounded queue;
// batches come out in order, and their content depends only on (seed, epoch, rank), never on
// the number of workers or on thread scheduling.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crunet/core/tensor.h"
#include "crunet/data/dataset.h"
#include "crunet/data/transforms.h"

namespace crunet::data {

struct Batch {
  Tensor images;                      // float32 [N, C, H, W], or [N, K, C, H, W] for K crops

  Tensor labels;                      // int64 [N]
  std::vector<std::int64_t> indices;  // the dataset index of each sample actually used
};

struct LoaderOptions {
  std::int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = true;
  int workers = 2;           // 0: decode on the calling thread, inside next()
  // Batches in flight or ready, at most; never fewer than `workers`, so that every worker has a
  // batch to build (8 workers with prefetch_batches 4 would leave half of them idle).
  int prefetch_batches = 4;
  std::uint64_t seed = 0;
  int rank = 0;
  int world_size = 1;
  double max_bad_fraction = 0.01;  // of the dataset's samples; more unreadable ones stop the loader
  // What happens to an unreadable sample: false (training) the next readable one takes its place,
  // so batches keep their size; true (evaluation) it is left out, its batch is one shorter, and
  // a batch whose samples are all unreadable is not delivered at all. Either way it is warned
  // about once and counted in bad_samples().
  bool skip_bad = false;
  // Batches in pinned host memory (crunet/core/pinned.h), whose copies to a GPU are asynchronous:
  // for training on a GPU (the trainer sets it only then). Ignored where no GPU is usable.
  bool pin_memory = false;
};

class DataLoader {
 public:
  // The transform returns a float32 CPU tensor [C, H, W], or [K, C, H, W] for K crops of one
  // image (TenCropTransform).
  DataLoader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform,
             LoaderOptions options);
  ~DataLoader();  // stops and joins the workers
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Begins an epoch; skips the first `skip_batches` batches (exact mid-epoch resume). An epoch
  // still running is abandoned.
  void start_epoch(std::int64_t epoch, std::int64_t skip_batches = 0);
  // The next batch of the epoch; false at its end. Rethrows what went wrong making the batch.
  bool next(Batch& batch);
  std::int64_t batches_per_epoch() const;  // this rank's
  std::int64_t samples_per_epoch() const;  // this rank's

  // The files skipped so far as unreadable (each was warned about once), in sample order.
  std::vector<std::string> bad_samples() const;
  const LoaderOptions& options() const { return options_; }

  // This rank's samples of an epoch, in delivery order (before batching). The shuffle is a
  // permutation of the whole dataset drawn from a Generator seeded by (seed, epoch), the same on
  // every rank; rank r takes every world_size-th element from position r.
  //   * shuffle or drop_last (training): every rank takes size / world_size samples (rounded
  //     down), so that all ranks run the same number of batches;
  //   * neither (evaluation): rank r takes the indices i with i % world_size == r, in order, so
  //     that every sample is seen exactly once across ranks, with no padding.
  static std::vector<std::int64_t> epoch_order(std::int64_t dataset_size,
                                               const LoaderOptions& options, std::int64_t epoch);
  // The seed of the Generator that augments sample `index` in `epoch`.
  static std::uint64_t sample_seed(std::uint64_t seed, std::int64_t epoch, std::int64_t index);

 private:
  bool next_made(Batch& batch);  // the next batch made, which skip_bad may have left empty
  struct Impl;
  LoaderOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crunet::data
