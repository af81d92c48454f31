#include "crunet/dist/device_binding.h"

#include <string>

#include "crunet/core/error.h"

namespace crunet::dist {

int local_gpu_index(int visible_gpus, int local_rank, int local_size) {
  if (visible_gpus < 1) throw UserError("train.device is cuda but this process sees no GPU");
  if (visible_gpus == 1) return 0;
  // Checked on every process, not only those left without a GPU: the job stops as a whole.
  if (local_size <= visible_gpus && local_rank < visible_gpus) return local_rank;
  throw UserError("train.device cuda: " + std::to_string(local_size) +
                  " processes on this node but each sees only " + std::to_string(visible_gpus) +
                  " GPUs (local rank " + std::to_string(local_rank) +
                  " has none); start one process per GPU (srun --ntasks-per-node=" +
                  std::to_string(visible_gpus) + "), or give each task one GPU "
                  "(srun --gpus-per-task=1)");
}

}  // namespace crunet::dist
