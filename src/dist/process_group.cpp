// The process group's common part, the group of one, and which group a process belongs to.
#include "crunet/dist/process_group.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "dist/mpi/mpi_world.h"

namespace crunet::dist {
namespace {

// One process, no MPI: every collective is the identity and completes at once.
class DoneWork : public Work {
 public:
  bool poll() override { return true; }
  void wait() override {}
};

class SingleProcessGroup : public ProcessGroup {
 public:
  SingleProcessGroup() : ProcessGroup(0, 1, 0, 1) {}
  std::string backend() const override { return "single"; }
  std::unique_ptr<Work> all_reduce_async(const Tensor& tensor, ReduceOp op) override {
    if (tensor.dtype() != DType::Float32 || !tensor.is_contiguous()) {
      throw ValueError("all_reduce: needs a contiguous float32 tensor, got " + tensor.description());
    }
    return std::make_unique<DoneWork>();
  }
  void all_reduce(std::vector<double>& values, ReduceOp op) override {}
  void broadcast(const Tensor& tensor, int root) override { check_root(root); }
  void broadcast(std::string& text, int root) override { check_root(root); }
  void barrier() override {}
  std::shared_ptr<ProcessGroup> duplicate() override { return std::make_shared<SingleProcessGroup>(); }
  [[noreturn]] void abort(const std::string& message, int status) override {
    std::fprintf(stderr, "crunet: %s\n", message.c_str());
    std::fflush(stderr);
    std::exit(status);
  }

 private:
  static void check_root(int root) {
    if (root != 0) throw ValueError("broadcast: root " + std::to_string(root) + " in a group of one");
  }
};

int env_int(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : -1;
}

}  // namespace

void ProcessGroup::set_timeout(double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds)) {
    throw ValueError("process group timeout must be a positive number of seconds, got " +
                     std::to_string(seconds));
  }
  timeout_s_ = seconds;
}

LaunchInfo detect_launch() {
  LaunchInfo info;
  if (const int size = env_int("OMPI_COMM_WORLD_SIZE"); size > 0) {
    info.launched = true;
    info.world_size = size;
    info.launcher = "mpirun";
  } else if (env_int("PMIX_RANK") >= 0) {
    info.launched = true;
    info.world_size = std::max(env_int("SLURM_NTASKS"), 0);
    info.launcher = "pmix";
  } else if (const int size = env_int("PMI_SIZE"); size > 0) {
    info.launched = true;
    info.world_size = size;
    info.launcher = "pmi";
  } else if (const int size = env_int("SLURM_NTASKS"); size > 1 && env_int("SLURM_PROCID") >= 0 &&
                                                        std::getenv("SLURM_STEP_ID") != nullptr) {
    // srun without an MPI plugin: the processes cannot find each other. Report it, not N copies.
    info.launched = false;
    info.world_size = size;
    info.launcher = "srun";
  }
  return info;
}

std::shared_ptr<ProcessGroup> single_process_group() { return std::make_shared<SingleProcessGroup>(); }

std::shared_ptr<ProcessGroup> world() {
  static std::mutex mutex;
  static std::shared_ptr<ProcessGroup> group;
  std::lock_guard<std::mutex> lock(mutex);
  if (group) return group;
  const LaunchInfo launch = detect_launch();
  if (launch.launcher == "srun") {
    throw RuntimeError("started by srun as one of " + std::to_string(launch.world_size) +
                       " tasks without an MPI plugin: use srun --mpi=pmix (docs/distributed.md)");
  }
  if (!launch.launched) {
    group = single_process_group();
  } else if (built_with_mpi()) {
    group = make_mpi_world();
  } else if (launch.world_size == 1) {
    group = single_process_group();
  } else {
    throw RuntimeError("started by " + launch.launcher + " as one of " +
                       (launch.world_size > 0 ? std::to_string(launch.world_size) : std::string("several")) +
                       " processes, but this build has no MPI (CRUNET_MPI=OFF or MPI not found): "
                       "each process would train alone; rebuild with libopenmpi-dev");
  }
  return group;
}

bool built_with_mpi() { return CRUNET_WITH_MPI != 0; }
bool built_with_nccl() { return CRUNET_WITH_NCCL != 0; }

}  // namespace crunet::dist
