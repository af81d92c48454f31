#include "dist/deadline.h"

#include <unistd.h>

#include <atomic>

#include "crunet/core/error.h"

namespace crunet::dist {
namespace {

std::atomic<pid_t> launcher_pid{0};

}  // namespace

void remember_launcher() { launcher_pid = getppid(); }

bool launcher_gone() {
  const pid_t launcher = launcher_pid.load();
  return launcher != 0 && getppid() != launcher;
}

void throw_wait_failure(WaitResult result, const std::string& what, int rank, int world_size,
                        double timeout_s) {
  const std::string where = " on rank " + std::to_string(rank) + " of " + std::to_string(world_size);
  switch (result) {
    case WaitResult::LauncherGone:
      throw RuntimeError(what + " was abandoned" + where +
                         ": the launcher (mpirun) that started this process is gone, another rank "
                         "probably died; stopping");
    default:
      throw RuntimeError(what + " did not complete within " +
                         std::to_string(static_cast<long long>(timeout_s)) +
                         " s (train.dist_timeout_s)" + where +
                         ": another rank died, hangs or stopped early; stopping");
  }
}

}  // namespace crunet::dist
