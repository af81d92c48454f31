#include "nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdio>
#include <string>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "dist/deadline.h"
#include "dist/mpi/mpi_check.h"
#include "dist/nccl/nccl_check.h"

namespace crunet::dist {

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  int rank = 0;
  int world_size = 1;
  int device = 0;
  bool aborted = false;

  // Polls the communicator's asynchronous error; on one, aborts the communicator and throws.
  void check_async(const char* what) {
    ncclResult_t async = ncclSuccess;
    CRUNET_NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
    if (async != ncclSuccess && async != ncclInProgress) {
      abort();
      throw_nccl_error(async, what, __FILE__, __LINE__);
    }
  }
  // Waits, with the deadline, until a non-blocking call has been fully issued.
  void wait_issued(const std::string& what, double timeout_s) {
    const WaitResult result = poll_until(
        [&] {
          ncclResult_t async = ncclSuccess;
          CRUNET_NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
          if (async == ncclInProgress) return false;
          if (async != ncclSuccess) {
            abort();
            throw_nccl_error(async, what.c_str(), __FILE__, __LINE__);
          }
          return true;
        },
        timeout_s);
    if (result != WaitResult::Done) {
      abort();
      throw_wait_failure(result, what, rank, world_size, timeout_s);
    }
  }
  void abort() {
    if (comm != nullptr && !aborted) {
      aborted = true;
      ncclCommAbort(comm);
    }
  }
};

namespace {

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Average: return ncclAvg;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  return ncclSum;
}

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<NcclCommunicator::State> state, std::string what, double timeout_s)
      : state_(std::move(state)), what_(std::move(what)), timeout_s_(timeout_s) {
    cuda::DeviceGuard guard(state_->device);
    CRUNET_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
    CRUNET_CUDA_CHECK(cudaEventRecord(event_, cuda::current_stream()));
  }
  ~NcclWork() override {
    if (event_ != nullptr) cudaEventDestroy(event_);
  }

  bool poll() override {
    if (done_) return true;
    if (state_->aborted) throw RuntimeError("NCCL " + what_ + ": the communicator was aborted");
    const cudaError_t status = cudaEventQuery(event_);
    if (status == cudaSuccess) {
      done_ = true;
    } else if (status == cudaErrorNotReady) {
      state_->check_async(what_.c_str());
    } else {
      CRUNET_CUDA_CHECK(status);
    }
    return done_;
  }
  void wait() override {
    const WaitResult result = poll_until([this] { return poll(); }, timeout_s_);
    if (result != WaitResult::Done) {
      state_->abort();
      throw_wait_failure(result, "NCCL " + what_, state_->rank, state_->world_size, timeout_s_);
    }
  }

 private:
  std::shared_ptr<NcclCommunicator::State> state_;
  std::string what_;
  double timeout_s_;
  cudaEvent_t event_ = nullptr;
  bool done_ = false;
};

std::string describe(const Tensor& tensor) {
  char text[48];
  std::snprintf(text, sizeof text, "%.2f MB", static_cast<double>(tensor.nbytes()) / 1e6);
  return text;
}

void check_tensor(const Tensor& tensor, int device, const char* op) {
  if (!tensor.device().is_cuda() || tensor.device().index() != device || !tensor.is_contiguous()) {
    throw ValueError(std::string("NCCL ") + op + ": needs a contiguous tensor on cuda:" +
                     std::to_string(device) + ", got " + tensor.description());
  }
}

}  // namespace

NcclCommunicator::NcclCommunicator(MPI_Comm comm, int rank, int world_size, int device,
                                   double timeout_s)
    : state_(std::make_shared<State>()) {
  state_->rank = rank;
  state_->world_size = world_size;
  state_->device = device;
  ncclUniqueId id;
  if (rank == 0) CRUNET_NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_Request request;
  CRUNET_MPI_CHECK(MPI_Ibcast(&id, sizeof id, MPI_BYTE, 0, comm, &request));
  const WaitResult received = poll_until(
      [&] {
        int flag = 0;
        CRUNET_MPI_CHECK(MPI_Test(&request, &flag, MPI_STATUS_IGNORE));
        return flag != 0;
      },
      timeout_s);
  if (received != WaitResult::Done) {
    throw_wait_failure(received, "MPI broadcast of the NCCL unique id", rank, world_size, timeout_s);
  }

  cuda::DeviceGuard guard(device);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // so that joining, too, is bounded by the deadline
  CRUNET_NCCL_CHECK(ncclCommInitRankConfig(&state_->comm, world_size, id, rank, &config));
  state_->wait_issued("NCCL communicator initialisation on cuda:" + std::to_string(device),
                      timeout_s);
}

NcclCommunicator::~NcclCommunicator() {
  if (state_->comm == nullptr) return;
  cuda::DeviceGuard guard(state_->device);
  if (state_->aborted) return;
  // Destroying while operations may still run on a dead peer would block: abort instead.
  ncclCommAbort(state_->comm);
  state_->aborted = true;
}

std::unique_ptr<Work> NcclCommunicator::all_reduce(const Tensor& tensor, ReduceOp op,
                                                   double timeout_s) {
  check_tensor(tensor, state_->device, "all-reduce");
  if (state_->aborted) throw RuntimeError("NCCL all-reduce: the communicator was aborted");
  cuda::DeviceGuard guard(state_->device);
  const std::string what = "all-reduce of " + describe(tensor);
  void* data = tensor.data_ptr();
  CRUNET_NCCL_CHECK(ncclAllReduce(data, data, static_cast<std::size_t>(tensor.numel()), ncclFloat32,
                                  nccl_op(op), state_->comm, cuda::current_stream()));
  state_->wait_issued("NCCL " + what, timeout_s);
  return std::make_unique<NcclWork>(state_, what, timeout_s);
}

std::unique_ptr<Work> NcclCommunicator::broadcast(const Tensor& tensor, int root, double timeout_s) {
  check_tensor(tensor, state_->device, "broadcast");
  if (state_->aborted) throw RuntimeError("NCCL broadcast: the communicator was aborted");
  cuda::DeviceGuard guard(state_->device);
  const std::string what = "broadcast of " + describe(tensor);
  void* data = tensor.data_ptr();
  CRUNET_NCCL_CHECK(ncclBroadcast(data, data, tensor.nbytes(), ncclChar, root, state_->comm,
                                  cuda::current_stream()));
  state_->wait_issued("NCCL " + what, timeout_s);
  return std::make_unique<NcclWork>(state_, what, timeout_s);
}

}  // namespace crunet::dist
