#pragma once
// NCCL for the CUDA tensors of an MPI process group: one communicator per process and GPU, its
// unique id drawn by rank 0 and broadcast over MPI. Operations are queued on the CUDA backend's
// stream; their Work polls a CUDA event and NCCL's asynchronous error state against the group's
// deadline, and on a timeout or an asynchronous error aborts the communicator (ncclCommAbort)
// before throwing, so no rank is left inside a kernel that waits for a dead peer.
#include <mpi.h>

#include <memory>

#include "crunet/dist/process_group.h"

namespace crunet::dist {

class NcclCommunicator {
 public:
  // Collective over `comm`; created non-blocking and waited for with the deadline.
  NcclCommunicator(MPI_Comm comm, int rank, int world_size, int device, double timeout_s);
  ~NcclCommunicator();
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  // In place on a contiguous float32 CUDA tensor of this communicator's device.
  std::unique_ptr<Work> all_reduce(const Tensor& tensor, ReduceOp op, double timeout_s);
  std::unique_ptr<Work> broadcast(const Tensor& tensor, int root, double timeout_s);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace crunet::dist
