#pragma once
// Which GPU a data-parallel process trains on when its config says `train.device: cuda`.
namespace crunet::dist {

// The CUDA device index for the process of local rank `local_rank` among `local_size` processes
// on its node, which sees `visible_gpus` GPUs:
//   * one visible GPU (srun --gpus-per-task=1, or CUDA_VISIBLE_DEVICES set per task): cuda:0;
//   * several (every task sees the whole node): cuda:<local rank>, one GPU per process.
// More processes on a node than the GPUs they see is a UserError saying both numbers and the two
// ways to launch that work.
int local_gpu_index(int visible_gpus, int local_rank, int local_size);

}  // namespace crunet::dist
