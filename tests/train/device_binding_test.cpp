// Which GPU a process of a data-parallel job takes for train.device "cuda".
#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "crunet/dist/device_binding.h"

namespace crunet {
namespace {

TEST(DeviceBinding, OneVisibleGpuPerTaskIsDeviceZeroWhateverTheLocalRank) {
  // srun --gpus-per-task=1: each of 8 tasks sees its own GPU as device 0.
  for (int local_rank = 0; local_rank < 8; ++local_rank) {
    EXPECT_EQ(dist::local_gpu_index(1, local_rank, 8), 0);
  }
}

TEST(DeviceBinding, AllGpusVisibleGivesEachLocalRankItsOwn) {
  for (int local_rank = 0; local_rank < 8; ++local_rank) {
    EXPECT_EQ(dist::local_gpu_index(8, local_rank, 8), local_rank);
  }
  EXPECT_EQ(dist::local_gpu_index(8, 0, 1), 0);  // one process on a node of eight
}

TEST(DeviceBinding, MoreProcessesThanVisibleGpusIsAUserErrorWithBothNumbers) {
  try {
    dist::local_gpu_index(4, 5, 8);
    FAIL() << "local rank 5 of 8 cannot have one of 4 GPUs";
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("8 processes on this node"), std::string::npos) << m;
    EXPECT_NE(m.find("only 4 GPUs"), std::string::npos) << m;
    EXPECT_NE(m.find("--gpus-per-task=1"), std::string::npos) << m;
  }
  // Local rank 0 has a GPU, but the job as a whole cannot run: every process stops.
  EXPECT_THROW(dist::local_gpu_index(4, 0, 8), UserError);
  EXPECT_THROW(dist::local_gpu_index(0, 0, 1), UserError);
}

}  // namespace
}  // namespace crunet
