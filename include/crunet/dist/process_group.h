#pragma once
// The process group of data-parallel training: which process this is (rank), how many there are
// (world size), and which of its node's processes (local rank: which GPU it uses). MPI is the
// launcher and control plane: `mpirun -np N` or `srun --mpi=pmix` start the processes, MPI's own
// collectives carry CPU tensors and small host values, NCCL (its unique id broadcast over MPI)
// carries CUDA tensors. Without a launcher a process is a group of one, and MPI is never touched.
//
// Every collective is bounded in time: it is started non-blocking and polled until it completes
// or the group's timeout passes; then it throws crunet::RuntimeError naming the operation, so a
// rank that died or hangs never makes the others wait forever. The programs in tools/ then call
// abort(), which stops every process of the job.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crunet/core/tensor.h"

namespace crunet::dist {

enum class ReduceOp { Sum, Average, Max, Min };

// A collective started and not yet known to be finished.
class Work {
 public:
  virtual ~Work() = default;
  // Moves the operation along; true once it has completed. Never blocks.
  virtual bool poll() = 0;
  // Blocks until it has completed; RuntimeError when the group's timeout passes first.
  virtual void wait() = 0;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }  // among the processes of this node
  int local_size() const { return local_size_; }
  bool is_main() const { return rank_ == 0; }  // rank 0 writes logs, metrics and checkpoints
  // "single" (one process, no MPI) or "mpi" (MPI, and NCCL for CUDA tensors).
  virtual std::string backend() const = 0;

  // Seconds a collective may take before it is declared failed (default 300).
  double timeout_s() const { return timeout_s_; }
  void set_timeout(double seconds);

  // In-place all-reduce of a contiguous float32 tensor: MPI on the CPU, NCCL on a GPU. The
  // tensor must stay alive and untouched until the work has completed.
  virtual std::unique_ptr<Work> all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::Sum) = 0;
  void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::Sum) { all_reduce_async(tensor, op)->wait(); }
  // Host values (counts, metrics, SyncBN statistics), reduced in float64, in place.
  virtual void all_reduce(std::vector<double>& values, ReduceOp op = ReduceOp::Sum) = 0;
  // Root's values of a contiguous tensor of any dtype, or of a string, to every process.
  virtual void broadcast(const Tensor& tensor, int root = 0) = 0;
  virtual void broadcast(std::string& text, int root = 0) = 0;
  virtual void barrier() = 0;
  // A group of the same processes whose collectives do not interleave with this one's (SyncBN
  // talks on its own group while gradient buckets are in flight on the trainer's).
  virtual std::shared_ptr<ProcessGroup> duplicate() = 0;
  // Stops every process of the job at once with `status` (MPI_Abort), after writing "crunet: rank
  // R of N: message" to stderr. For the programs in tools/, after an error on one rank; a library
  // function never calls it.
  [[noreturn]] virtual void abort(const std::string& message, int status) = 0;

 protected:
  ProcessGroup(int rank, int world_size, int local_rank, int local_size)
      : rank_(rank), world_size_(world_size), local_rank_(local_rank), local_size_(local_size) {}

 private:
  int rank_;
  int world_size_;
  int local_rank_;
  int local_size_;
  double timeout_s_ = 300.0;
};

// What the environment says about a launcher: OpenMPI's mpirun (OMPI_COMM_WORLD_SIZE), PMIx
// (PMIX_RANK, srun --mpi=pmix), PMI (PMI_SIZE, srun --mpi=pmi2, MPICH's Hydra) or SLURM alone
// (SLURM_NTASKS with SLURM_PROCID: srun without --mpi, which cannot start MPI).
struct LaunchInfo {
  bool launched = false;  // an MPI launcher started this process
  int world_size = 1;     // as the environment says, where it says (0 when unknown)
  std::string launcher;   // "mpirun", "pmix", "pmi", "" (none)
};
LaunchInfo detect_launch();

// The group of this process, made on first use: MPI's world when an MPI launcher started the
// process (MPI_Init_thread here, MPI_Finalize at exit), otherwise a group of one. A launch with
// several processes in a build without MPI is a RuntimeError, rather than N copies of one run.
std::shared_ptr<ProcessGroup> world();
// A group of one, whatever the environment (tools that must not join a job).
std::shared_ptr<ProcessGroup> single_process_group();

// What this build has: MPI (CRUNET_MPI), and NCCL for CUDA tensors (CUDA and MPI both on).
bool built_with_mpi();
bool built_with_nccl();

}  // namespace crunet::dist
