#pragma once
// Data-parallel gradient averaging in buckets, overlapped with backward (as DDP and Horovod do).
//
// The parameters are grouped into buckets of about `bucket_bytes`, in reverse registration order
// (roughly the order in which backward finishes their gradients). A grad-ready hook on each
// parameter (crunet/autograd/hooks.h) copies its final gradient into its bucket's flat buffer;
// when a bucket is full it starts a non-blocking all-reduce (MPI_Iallreduce on the CPU,
// ncclAllReduce on a GPU) while backward goes on. Buckets start strictly in index order on every
// process, so the collectives match even if hooks fire in a different order. finish() waits for
// all of them, with the group's timeout, and writes the average back into every .grad.
//
// A parameter that backward did not reach contributes its current .grad (from earlier
// micro-batches) or zeros; one that no process has a gradient for keeps an undefined .grad, so
// the optimiser skips it as it would in a single process.
#include <cstddef>
#include <memory>
#include <vector>

#include "crunet/autograd/hooks.h"
#include "crunet/dist/process_group.h"
#include "crunet/nn/module.h"

namespace crunet::dist {

struct ReducerOptions {
  std::size_t bucket_bytes = 25u << 20;  // 25 MiB, DDP's default
};

class GradientReducer {
 public:
  // `parameters`: float32 tensors on one device (those without requires_grad are left out).
  // Register after the model has been moved to its device. In a group of one made without a
  // launcher nothing happens; an MPI group of one (mpirun -np 1) reduces, trivially.
  GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<nn::NamedTensor> parameters,
                  ReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Arms the hooks for the next backward(): call it before the backward of the last micro-batch
  // of an update (not before the earlier ones, whose gradients only accumulate locally). Without
  // it finish() still averages everything, only without overlap.
  void prepare();
  // Completes the reduction; afterwards every process holds the same averaged gradients.
  void finish();

  std::size_t bucket_count() const;
  // The parameter names of each bucket, in order (for tests and logs).
  std::vector<std::vector<std::string>> bucket_names() const;

 private:
  struct Bucket;
  void on_grad_ready(std::size_t parameter);
  void launch_ready_buckets();
  void poll_in_flight();
  void fill(std::size_t parameter);

  std::shared_ptr<ProcessGroup> group_;
  std::vector<nn::NamedTensor> parameters_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<std::size_t> bucket_of_;    // parameter -> bucket
  std::vector<std::size_t> slot_of_;      // parameter -> index in its bucket
  std::vector<autograd::HookHandle> hooks_;
  std::size_t next_launch_ = 0;
  bool active_ = false;
  bool armed_ = false;
};

}  // namespace crunet::dist
