// The MPI process group. MPI_Init_thread once (MPI_THREAD_FUNNELED: only the thread that runs the
// training loop talks MPI; the data loader's workers never do), MPI_Finalize at exit. The group
// works on its own duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN, so failures reach the MPI
// checker as exceptions. Every collective is non-blocking (MPI_Iallreduce, MPI_Ibcast,
// MPI_Ibarrier) and waited for with the group's deadline; CUDA tensors go to NCCL.
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

#include "crunet/core/elementwise.h"
#include "dist/deadline.h"
#include "dist/mpi/mpi_check.h"
#include "dist/mpi/mpi_world.h"
#if CRUNET_WITH_NCCL
#include "dist/nccl/nccl_communicator.h"
#endif

namespace crunet::dist {
namespace {

bool mpi_finalized() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  return finalized != 0;
}

void finalize_at_exit() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized && !mpi_finalized()) MPI_Finalize();
}

void initialize_mpi() {
  int initialized = 0;
  CRUNET_MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) return;  // by the embedding program; it also finalises
  int provided = 0;
  CRUNET_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  if (provided < MPI_THREAD_FUNNELED) {
    throw RuntimeError("MPI provides thread level " + std::to_string(provided) +
                       ", crunet needs MPI_THREAD_FUNNELED");
  }
  std::atexit(finalize_at_exit);
  remember_launcher();
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Average: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  return MPI_SUM;
}

// Requests of one collective (several when a tensor has more than INT_MAX elements).
class MpiWork : public Work {
 public:
  MpiWork(std::vector<MPI_Request> requests, std::string what, int rank, int world_size,
          double timeout_s, std::function<void()> on_complete)
      : requests_(std::move(requests)), what_(std::move(what)), rank_(rank),
        world_size_(world_size), timeout_s_(timeout_s), on_complete_(std::move(on_complete)) {}
  // An unfinished collective's requests cannot be freed or cancelled (MPI 3.1, 5.12); after a
  // timeout the job is going down anyway, so they are left to MPI_Abort.

  bool poll() override {
    if (done_) return true;
    int flag = 0;
    CRUNET_MPI_CHECK(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag,
                                 MPI_STATUSES_IGNORE));
    if (flag) {
      done_ = true;
      if (on_complete_) on_complete_();
    }
    return done_;
  }
  void wait() override {
    const WaitResult result = poll_until([this] { return poll(); }, timeout_s_);
    if (result != WaitResult::Done) throw_wait_failure(result, what_, rank_, world_size_, timeout_s_);
  }

 private:
  std::vector<MPI_Request> requests_;
  std::string what_;
  int rank_, world_size_;
  double timeout_s_;
  std::function<void()> on_complete_;
  bool done_ = false;
};

std::string megabytes(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

class MpiProcessGroup : public ProcessGroup {
 public:
  MpiProcessGroup(MPI_Comm comm, int rank, int world_size, int local_rank, int local_size)
      : ProcessGroup(rank, world_size, local_rank, local_size), comm_(comm) {}
  ~MpiProcessGroup() override {
    if (mpi_finalized()) return;  // at exit, after MPI_Finalize: nothing left to free
#if CRUNET_WITH_NCCL
    nccl_.clear();
#endif
    MPI_Comm_free(&comm_);
  }

  std::string backend() const override { return "mpi"; }

  std::unique_ptr<Work> all_reduce_async(const Tensor& tensor, ReduceOp op) override {
    if (tensor.dtype() != DType::Float32 || !tensor.is_contiguous()) {
      throw ValueError("all_reduce: needs a contiguous float32 tensor, got " + tensor.description());
    }
    const std::string what = "all-reduce of " + megabytes(tensor.nbytes());
    if (tensor.device().is_cuda()) {
#if CRUNET_WITH_NCCL
      return nccl(tensor.device().index()).all_reduce(tensor, op, timeout_s());
#else
      throw NotImplementedError("all_reduce of a CUDA tensor needs NCCL, which this build lacks");
#endif
    }
    auto* data = tensor.data<float>();
    std::vector<MPI_Request> requests;
    for (std::int64_t first = 0; first < tensor.numel(); first += INT_MAX) {
      const int count = static_cast<int>(std::min<std::int64_t>(INT_MAX, tensor.numel() - first));
      MPI_Request request;
      CRUNET_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data + first, count, MPI_FLOAT, mpi_op(op),
                                      comm_, &request));
      requests.push_back(request);
    }
    std::function<void()> on_complete;
    if (op == ReduceOp::Average) {
      on_complete = [tensor, factor = 1.0f / static_cast<float>(world_size())] {
        scale_inplace(tensor, factor);
      };
    }
    return std::make_unique<MpiWork>(std::move(requests), "MPI " + what, rank(), world_size(),
                                     timeout_s(), std::move(on_complete));
  }

  void all_reduce(std::vector<double>& values, ReduceOp op) override {
    if (values.empty()) return;
    if (values.size() > static_cast<std::size_t>(INT_MAX)) {
      throw ValueError("all_reduce: more than INT_MAX host values");
    }
    MPI_Request request;
    CRUNET_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                                    MPI_DOUBLE, mpi_op(op), comm_, &request));
    MpiWork({request}, "MPI all-reduce of " + std::to_string(values.size()) + " values", rank(),
            world_size(), timeout_s(), nullptr)
        .wait();
    if (op == ReduceOp::Average) {
      for (double& value : values) value /= world_size();
    }
  }

  void broadcast(const Tensor& tensor, int root) override {
    check_root(root);
    if (!tensor.is_contiguous()) {
      throw ValueError("broadcast: needs a contiguous tensor, got " + tensor.description());
    }
    if (tensor.device().is_cuda()) {
#if CRUNET_WITH_NCCL
      nccl(tensor.device().index()).broadcast(tensor, root, timeout_s())->wait();
#else
      Tensor host = tensor.to(Device::cpu());
      broadcast(host, root);
      Tensor(tensor).copy_(host);  // a handle on the same storage
#endif
      return;
    }
    broadcast_bytes(static_cast<char*>(tensor.data_ptr()), tensor.nbytes(), root,
                    "MPI broadcast of " + megabytes(tensor.nbytes()));
  }

  void broadcast(std::string& text, int root) override {
    check_root(root);
    std::uint64_t size = text.size();
    broadcast_bytes(reinterpret_cast<char*>(&size), sizeof size, root, "MPI broadcast of a length");
    text.resize(size);
    broadcast_bytes(text.data(), text.size(), root, "MPI broadcast of a string");
  }

  void barrier() override {
    MPI_Request request;
    CRUNET_MPI_CHECK(MPI_Ibarrier(comm_, &request));
    MpiWork({request}, "MPI barrier", rank(), world_size(), timeout_s(), nullptr).wait();
  }

  std::shared_ptr<ProcessGroup> duplicate() override {
    MPI_Comm copy;
    MPI_Request request;
    CRUNET_MPI_CHECK(MPI_Comm_idup(comm_, &copy, &request));
    MpiWork({request}, "MPI communicator duplication", rank(), world_size(), timeout_s(), nullptr)
        .wait();
    CRUNET_MPI_CHECK(MPI_Comm_set_errhandler(copy, MPI_ERRORS_RETURN));
    auto group = std::make_shared<MpiProcessGroup>(copy, rank(), world_size(), local_rank(),
                                                   local_size());
    group->set_timeout(timeout_s());
    return group;
  }

  [[noreturn]] void abort(const std::string& message, int status) override {
    std::fprintf(stderr, "crunet: rank %d of %d: %s; aborting all ranks\n", rank(), world_size(),
                 message.c_str());
    std::fflush(stderr);
    // Without its launcher MPI_Abort has nobody to tell (and may wait for it): just leave.
    if (!launcher_gone()) MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);  // MPI_Abort does not return; this is for a broken MPI
  }

 private:
  void check_root(int root) const {
    if (root < 0 || root >= world_size()) {
      throw ValueError("broadcast: root " + std::to_string(root) + " outside a group of " +
                       std::to_string(world_size()));
    }
  }

  void broadcast_bytes(char* data, std::size_t nbytes, int root, const std::string& what) {
    std::vector<MPI_Request> requests;
    for (std::size_t first = 0; first < nbytes; first += INT_MAX) {
      const int count = static_cast<int>(std::min<std::size_t>(INT_MAX, nbytes - first));
      MPI_Request request;
      CRUNET_MPI_CHECK(MPI_Ibcast(data + first, count, MPI_BYTE, root, comm_, &request));
      requests.push_back(request);
    }
    if (requests.empty()) return;
    MpiWork(std::move(requests), what, rank(), world_size(), timeout_s(), nullptr).wait();
  }

#if CRUNET_WITH_NCCL
  // One NCCL communicator per GPU this process reduces on (one, in practice), made on first use.
  NcclCommunicator& nccl(int device) {
    auto it = nccl_.find(device);
    if (it == nccl_.end()) {
      it = nccl_.emplace(device, std::make_unique<NcclCommunicator>(comm_, rank(), world_size(),
                                                                   device, timeout_s()))
               .first;
    }
    return *it->second;
  }
  std::map<int, std::unique_ptr<NcclCommunicator>> nccl_;
#endif
  MPI_Comm comm_;
};

}  // namespace

std::shared_ptr<ProcessGroup> make_mpi_world() {
  initialize_mpi();
  MPI_Comm comm;
  CRUNET_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
  CRUNET_MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  int rank = 0, size = 1;
  CRUNET_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  CRUNET_MPI_CHECK(MPI_Comm_size(comm, &size));
  // The processes sharing this node's memory: the local rank picks the GPU.
  MPI_Comm node;
  CRUNET_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  int local_rank = 0, local_size = 1;
  CRUNET_MPI_CHECK(MPI_Comm_rank(node, &local_rank));
  CRUNET_MPI_CHECK(MPI_Comm_size(node, &local_size));
  MPI_Comm_free(&node);
  return std::make_shared<MpiProcessGroup>(comm, rank, size, local_rank, local_size);
}

}  // namespace crunet::dist
