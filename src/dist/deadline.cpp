#include "dist/deadline.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "crunet/core/error.h"
#include "crunet/dist/process_group.h"

namespace crunet::dist {
namespace {

std::atomic<pid_t> launcher_pid{0};
// Steady-clock nanoseconds of the first stop signal; 0 when none. Lock-free, so that a signal
// handler may set it.
std::atomic<long long> stop_signal_ns{0};
static_assert(std::atomic<long long>::is_always_lock_free, "notify_stop_signal must be signal-safe");

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void remember_launcher() { launcher_pid = getppid(); }

bool launcher_gone() {
  const pid_t launcher = launcher_pid.load();
  return launcher != 0 && getppid() != launcher;
}

void notify_stop_signal() noexcept {
  long long expected = 0;
  // clock_gettime (behind steady_clock) is async-signal-safe.
  stop_signal_ns.compare_exchange_strong(expected, std::max(now_ns(), 1LL));
}

double seconds_since_stop_signal() {
  const long long at = stop_signal_ns.load();
  return at == 0 ? -1.0 : static_cast<double>(now_ns() - at) * 1e-9;
}

void throw_wait_failure(WaitResult result, const std::string& what, int rank, int world_size,
                        double timeout_s) {
  const std::string where = " on rank " + std::to_string(rank) + " of " + std::to_string(world_size);
  switch (result) {
    case WaitResult::LauncherGone:
      throw RuntimeError(what + " was abandoned" + where +
                         ": the launcher (mpirun) that started this process is gone, another rank "
                         "probably died; stopping");
    case WaitResult::Stopped:
      throw RuntimeError(what + " did not complete within " +
                         std::to_string(static_cast<long long>(kStopGraceSeconds)) +
                         " s of a stop signal" + where +
                         ": another rank died or was stopped; stopping");
    default:
      throw RuntimeError(what + " did not complete within " +
                         std::to_string(static_cast<long long>(timeout_s)) +
                         " s (train.dist_timeout_s)" + where +
                         ": another rank died, hangs or stopped early; stopping");
  }
}

}  // namespace crunet::dist
