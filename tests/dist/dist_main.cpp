// The MPI test program. Under `mpirun -np 2` it runs the GoogleTest cases of this folder on every
// rank and exits non-zero if any rank failed. With --failure=MODE it instead trains a few updates
// and then misbehaves on rank 1, for the failure tests in tests/dist_e2e:
//   hang: rank 1 stops taking part (sleeps); rank 0 must give up after --timeout seconds;
//   kill: rank 1 kills itself with SIGKILL; rank 0 must not wait for it.
// Rank 0 reports what stopped it and, as crunet-train does, aborts the job.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "crunet/crunet.h"
#include "dist_models.h"

namespace {

using namespace crunet;

int run_failure(const std::string& mode, double timeout_s) {
  auto group = dist::world();
  group->set_timeout(timeout_s);
  try {
    manual_seed(1);
    auto model = dist_test::tiny_crunet();
    dist::broadcast_module(*group, *model);
    optim::SGD sgd(model->named_parameters(), {});
    dist::GradientReducer reducer(group, model->named_parameters(), {4096});
    for (int step = 0; step < 1000; ++step) {
      if (step == 2 && group->rank() == 1) {
        std::fprintf(stderr, "rank 1: failing on purpose (%s) at update %d\n", mode.c_str(), step);
        std::fflush(stderr);
        if (mode == "kill") std::raise(SIGKILL);
        std::this_thread::sleep_for(std::chrono::seconds(600));
      }
      const dist_test::GlobalBatch batch = dist_test::global_batch(4, static_cast<std::uint64_t>(step));
      reducer.prepare();
      ops::cross_entropy(model->forward(batch.images), batch.labels).backward();
      reducer.finish();
      sgd.step();
      sgd.zero_grad();
    }
    std::fprintf(stderr, "rank %d: trained 1000 updates without noticing the failure\n",
                 group->rank());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: stopped: %s\n", group->rank(), e.what());
    group->abort(e.what(), 1);
  }
  return 1;  // not reached: abort() does not return
}

}  // namespace

int main(int argc, char** argv) {
  auto group = crunet::dist::world();
  group->set_timeout(30);
  std::string failure;
  double timeout_s = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument.rfind("--failure=", 0) == 0) failure = argument.substr(10);
    if (argument.rfind("--timeout=", 0) == 0) timeout_s = std::atof(argument.c_str() + 10);
  }
  if (!failure.empty()) return run_failure(failure, timeout_s);

  // One full report, rank 0's; the others print only their failures.
  if (!group->is_main()) GTEST_FLAG_SET(brief, true);
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  std::vector<double> failed{status != 0 ? 1.0 : 0.0};
  group->all_reduce(failed, crunet::dist::ReduceOp::Max);
  if (failed[0] != 0 && status == 0) {
    std::fprintf(stderr, "rank %d: passed, but another rank failed\n", group->rank());
  }
  return failed[0] != 0 ? 1 : 0;
}
