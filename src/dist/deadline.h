#pragma once
// Bounded waiting for collectives: poll until done, spinning briefly (small all-reduces finish in
// microseconds), then yielding the core for a few milliseconds (a peer on the same core runs at
// once), then sleeping in growing steps up to a millisecond, so that a process waiting for a slow
// peer leaves its core to the peer (two ranks on two cores). The wait gives up
//   * at the group's deadline (train.dist_timeout_s),
//   * at once when the launcher that started this process is gone (mpirun exited after another
//     rank died: this process was re-parented, nobody will ever answer).
// A stop signal (SIGTERM) does not shorten the wait: after one, rank 0 may be writing the stop's
// checkpoint while the others wait for it, which takes as long as the file system needs.
#include <chrono>
#include <string>
#include <thread>

namespace crunet::dist {

enum class WaitResult { Done, TimedOut, LauncherGone };

// Remembers this process's parent (the launcher) when MPI starts; the wait compares against it.
void remember_launcher();
bool launcher_gone();

template <typename Done>
WaitResult poll_until(Done&& done, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_s));
  const auto yield_until = Clock::now() + std::chrono::milliseconds(5);
  auto pause = std::chrono::microseconds(20);
  for (int spins = 0;; ++spins) {
    if (done()) return WaitResult::Done;
    if (spins < 200) continue;
    const auto now = Clock::now();
    if (now >= deadline) return WaitResult::TimedOut;
    if (launcher_gone()) return WaitResult::LauncherGone;
    if (now < yield_until) {
      std::this_thread::yield();  // a peer sharing this core gets it at once
    } else {
      std::this_thread::sleep_for(pause);
      if (pause < std::chrono::microseconds(1000)) pause *= 2;
    }
  }
}

// The error of a collective that did not finish (result is not Done).
[[noreturn]] void throw_wait_failure(WaitResult result, const std::string& what, int rank,
                                     int world_size, double timeout_s);

}  // namespace crunet::dist
