// Data-parallel runs of the real programs under `mpirun -np 2` (label dist): crunet-train where
// only rank 0 writes the run folder, crunet-eval that counts every validation image once, and
// failures - a rank killed, a rank that hangs, a rank that fails - that stop the job within a
// minute instead of hanging it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crunet/train/checkpoint.h"
#include "e2e/e2e_util.h"

namespace crunet::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// What mpirun needs here (unless the caller says otherwise): OpenMPI refuses root (CI) without the
// ALLOW variables; two ranks on two cores: oversubscription allowed, one OpenMP thread per rank,
// waiting threads that sleep instead of spinning.
const bool environment_set = [] {
  for (const auto& [name, value] :
       {std::pair{"OMPI_ALLOW_RUN_AS_ROOT", "1"}, std::pair{"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"},
        std::pair{"OMPI_MCA_rmaps_base_oversubscribe", "1"}, std::pair{"OMP_NUM_THREADS", "1"},
        std::pair{"OMP_WAIT_POLICY", "passive"}}) {
    setenv(name, value, 0);
  }
  return true;
}();

std::string tool(const std::string& name) { return std::string(CRUNET_TOOLS_DIR) + "/" + name; }

std::string quoted(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += " '" + word + "'";
  return text;
}

// `mpirun -np 2 ARGS`, or an MPMD line "-np 1 A : -np 1 B" when given as such.
std::string mpirun(const std::string& arguments) {
  return std::string(CRUNET_MPIRUN) + " " + arguments;
}

struct Timed {
  RunResult run;
  double seconds = 0;
};

Timed run_shell(const std::string& command) {
  Timed timed;
  const auto start = Clock::now();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return timed;
  char buffer[4096];
  std::size_t read;
  while ((read = fread(buffer, 1, sizeof buffer, pipe)) > 0) timed.run.output.append(buffer, read);
  const int status = pclose(pipe);
  timed.run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  timed.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return timed;
}

// A small data-parallel Fashion-MNIST run: 2 x 25 images per update, 301 validation images (an
// odd number: the ranks' shards differ in size).
std::string write_config(const std::string& folder, int epochs) {
  const std::string path = folder + "/config.yaml";
  write_file(path, tiny_fashion_config(folder + "/run", epochs));
  return path;
}

std::vector<std::string> settings(int train_limit, double timeout_s) {
  return {"--set", "data.train_limit=" + std::to_string(train_limit), "--set", "data.val_limit=301",
          "--set", "data.batch_size=25", "--set", "data.workers=0", "--set", "train.threads=1",
          "--set", "train.log_every=2", "--set",
          "train.dist_timeout_s=" + std::to_string(static_cast<int>(timeout_s))};
}

TEST(DistributedTraining, OnlyRankZeroWritesAndEvaluationCountsEveryImageOnce) {
  const std::string folder = fresh_folder("dist_train");
  const std::string config = write_config(folder, 2);
  std::vector<std::string> common = {"--config", config};
  for (const std::string& s : settings(2000, 60)) common.push_back(s);
  // MPMD: the same program and config, but rank 1 is given another run folder; it must not
  // create it.
  std::vector<std::string> rank0 = common, rank1 = common;
  rank0.insert(rank0.end(), {"--output", folder + "/run", "--set", "train.sync_bn=true"});
  rank1.insert(rank1.end(), {"--output", folder + "/rank1_run", "--set", "train.sync_bn=true"});
  const Timed train = run_shell(mpirun("-np 1 " + tool("crunet-train") + quoted(rank0) + " : -np 1 " +
                                       tool("crunet-train") + quoted(rank1)));
  std::printf("[ timing ] mpirun -np 2 crunet-train: %.1f s\n", train.seconds);
  ASSERT_EQ(train.run.status, 0) << train.run.output;
  EXPECT_FALSE(fs::exists(folder + "/rank1_run")) << "rank 1 wrote a run folder";
  for (const char* file : {"config.yaml", "train.log", "metrics.jsonl", "curves.svg",
                           "model.safetensors"}) {
    EXPECT_TRUE(fs::is_regular_file(folder + "/run/" + file)) << file;
  }
  const std::string log = read_file(folder + "/run/train.log");
  EXPECT_NE(log.find("data-parallel: 2 processes"), std::string::npos) << log;
  EXPECT_EQ(log.find("rank 1"), std::string::npos) << log;
  const std::vector<std::string> epochs = epoch_records(folder + "/run");
  ASSERT_EQ(epochs.size(), 2u) << "one record per epoch, written once";
  const json last = json::parse(epochs.back());
  EXPECT_GT(last["val_top1"].get<double>(), 0.3);  // chance is 0.1

  // crunet-eval on two ranks: 301 images, each once, and the trainer's own numbers (the same
  // shards and batches); on one process the same images give the same count.
  const std::string out2 = folder + "/eval2.json", out1 = folder + "/eval1.json";
  std::vector<std::string> eval = {"--config", config, "--weights", folder + "/run/model.safetensors",
                                   "--set", "data.val_limit=301", "--set", "train.threads=1",
                                   "--set", "data.workers=0"};
  std::vector<std::string> eval2 = eval, eval1 = eval;
  eval2.insert(eval2.end(), {"--json", out2});
  eval1.insert(eval1.end(), {"--json", out1});
  const Timed two = run_shell(mpirun("-np 2 " + tool("crunet-eval") + quoted(eval2)));
  ASSERT_EQ(two.run.status, 0) << two.run.output;
  const json result2 = json::parse(read_file(out2));
  EXPECT_EQ(result2["samples"].get<int>(), 301);
  EXPECT_EQ(result2["top1"].get<double>(), last["val_top1"].get<double>());
  EXPECT_EQ(result2["top5"].get<double>(), last["val_top5"].get<double>());
  const Timed one = run_shell(tool("crunet-eval") + quoted(eval1));
  ASSERT_EQ(one.run.status, 0) << one.run.output;
  const json result1 = json::parse(read_file(out1));
  EXPECT_EQ(result1["samples"].get<int>(), 301);
  EXPECT_NEAR(result1["top1"].get<double>(), result2["top1"].get<double>(), 1.5 / 301);
}

// Ten-crop and single-crop evaluation on two ranks, through the loader in batches, with one
// unreadable file: each rank a shard, the totals exactly those of one process (13 images, 1
// skipped), no image counted twice.
TEST(DistributedEvaluation, ShardedTenCropTotalsEqualOneProcess) {
  const std::string folder = fresh_folder("dist_eval");
  const EvalFixture fixture = make_eval_fixture(folder, 13, true);
  for (const bool ten : {true, false}) {
    std::vector<std::string> arguments = {"--config", fixture.config, "--weights", fixture.weights,
                                          "--batch-size", "2", "--workers", "1"};
    if (ten) arguments.push_back("--ten-crop");
    std::vector<std::string> two = arguments, one = arguments;
    two.insert(two.end(), {"--json", folder + "/two.json"});
    one.insert(one.end(), {"--json", folder + "/one.json"});
    const Timed sharded = run_shell(mpirun("-np 2 " + tool("crunet-eval") + quoted(two)));
    ASSERT_EQ(sharded.run.status, 0) << sharded.run.output;
    const Timed alone = run_shell(tool("crunet-eval") + quoted(one));
    ASSERT_EQ(alone.run.status, 0) << alone.run.output;
    const json a = json::parse(read_file(folder + "/two.json"));
    const json b = json::parse(read_file(folder + "/one.json"));
    EXPECT_EQ(a["processes"].get<int>(), 2);
    EXPECT_EQ(a["samples"].get<int>(), 13);
    EXPECT_EQ(a["skipped"].get<int>(), 1);
    EXPECT_EQ(b["samples"].get<int>(), 13);
    EXPECT_EQ(a["top1"].get<double>(), b["top1"].get<double>());
    EXPECT_EQ(a["top5"].get<double>(), b["top5"].get<double>());
    EXPECT_NEAR(a["loss"].get<double>(), b["loss"].get<double>(), 1e-5);
    // The warning comes from the rank whose shard holds the file, and only once.
    const std::string& output = sharded.run.output;
    const std::size_t first = output.find("class1/broken.png");
    ASSERT_NE(first, std::string::npos) << output;
    EXPECT_EQ(output.find("class1/broken.png", first + 1), std::string::npos) << output;
  }
}

// The process ids of mpirun's children that are rank `rank` of the job.
std::vector<pid_t> ranks_of(pid_t launcher, int rank) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_file(entry.path().string() + "/stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int parent = 0;
    char state = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &parent) != 2 || parent != launcher) continue;
    std::ifstream environ(entry.path().string() + "/environ", std::ios::binary);
    std::string variable;
    while (std::getline(environ, variable, '\0')) {
      if (variable == "OMPI_COMM_WORLD_RANK=" + std::to_string(rank)) found.push_back(std::stoi(name));
    }
  }
  return found;
}

// Running, as opposed to gone or a zombie that nobody has reaped yet (mpirun is gone: its children
// are reparented, and a container's init may not reap them at once).
bool alive(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' &&
         stat[close + 2] != 'X';
}

// Starts `mpirun -np 2 crunet-train ARGS` in the background (its own process group); returns the pid.
pid_t start_mpirun_training(const std::vector<std::string>& arguments, const std::string& log) {
  const pid_t launcher = fork();
  if (launcher == 0) {
    setpgid(0, 0);
    const std::string command = "exec " + mpirun("-np 2 " + tool("crunet-train") + quoted(arguments)) +
                                " > '" + log + "' 2>&1";
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return launcher;
}

bool wait_for_step_records(const std::string& run_folder) {
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(60)) {
    if (read_file(run_folder + "/metrics.jsonl").find("\"kind\":\"step\"") != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(DistributedFailures, KillingOneRankOfATrainingRunStopsTheOtherWithinAMinute) {
  const std::string folder = fresh_folder("dist_kill");
  const std::string config = write_config(folder, 50);
  std::vector<std::string> arguments = {"--config", config};
  for (const std::string& s : settings(4000, 40)) arguments.push_back(s);
  const std::string log = folder + "/mpirun.log";
  const pid_t launcher = start_mpirun_training(arguments, log);
  ASSERT_GT(launcher, 0);
  // Wait until training runs (rank 0 writes step records), then kill rank 1 outright.
  wait_for_step_records(folder + "/run");
  std::vector<pid_t> victims = ranks_of(launcher, 1);
  std::vector<pid_t> survivors = ranks_of(launcher, 0);
  if (victims.size() != 1 || survivors.size() != 1) {
    kill(-launcher, SIGKILL);
    waitpid(launcher, nullptr, 0);
    FAIL() << "could not find the two ranks under mpirun " << launcher << "\n" << read_file(log);
  }
  const auto killed = Clock::now();
  kill(victims[0], SIGKILL);
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(launcher, &status, WNOHANG)) == 0 &&
         Clock::now() - killed < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  if (done == 0) {
    kill(-launcher, SIGKILL);
    waitpid(launcher, nullptr, 0);
    FAIL() << "mpirun still running 60 s after rank 1 was killed\n" << read_file(log);
  }
  // Rank 0 is not our child: it is gone when /proc says so (it may outlive mpirun by a moment).
  while (alive(survivors[0]) && Clock::now() - killed < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double rank0_seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  std::printf("[ timing ] rank 1 killed; mpirun ended %.1f s later, rank 0 %.1f s later\n", seconds,
              rank0_seconds);
  EXPECT_TRUE(!WIFEXITED(status) || WEXITSTATUS(status) != 0) << read_file(log);
  EXPECT_FALSE(alive(survivors[0])) << "rank 0 still running 60 s after rank 1 was killed\n"
                                    << read_file(log);
  EXPECT_LT(rank0_seconds, 60);
}

TEST(DistributedTraining, ASignalToOneRankStopsAllAtTheSameUpdateAndResumeIsExact) {
  // SIGTERM reaches rank 1 only: both ranks must stop at the same update (rank 0 would otherwise
  // wait for rank 1 in the next all-reduce), rank 0 writes a checkpoint, all exit 0; resuming on
  // two ranks then ends with the very weights of an uninterrupted two-rank run.
  const std::string folder = fresh_folder("dist_resume");
  const std::string config = write_config(folder, 1);
  std::vector<std::string> arguments = {"--config", config};
  for (const std::string& s : settings(2000, 60)) arguments.push_back(s);
  std::vector<std::string> interrupted = arguments, whole = arguments;
  interrupted.insert(interrupted.end(), {"--output", folder + "/run"});
  whole.insert(whole.end(), {"--output", folder + "/whole"});

  const pid_t launcher = start_mpirun_training(interrupted, folder + "/mpirun.log");
  ASSERT_GT(launcher, 0);
  const bool started = wait_for_step_records(folder + "/run");
  const std::vector<pid_t> rank1 = ranks_of(launcher, 1);
  if (!started || rank1.size() != 1) {
    kill(-launcher, SIGKILL);
    waitpid(launcher, nullptr, 0);
    FAIL() << "training did not start under mpirun\n" << read_file(folder + "/mpirun.log");
  }
  kill(rank1[0], SIGTERM);
  int status = 0;
  waitpid(launcher, &status, 0);
  const std::string log = read_file(folder + "/mpirun.log");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log;
  EXPECT_NE(log.find("stopped by a signal"), std::string::npos) << log;
  ASSERT_EQ(train::list_checkpoints(folder + "/run/checkpoints").size(), 1u);
  EXPECT_FALSE(fs::exists(folder + "/run/model.safetensors")) << "stopped before the end";

  std::vector<std::string> resume = interrupted;
  resume.insert(resume.end(), {"--resume", "auto"});
  const Timed resumed = run_shell(mpirun("-np 2 " + tool("crunet-train") + quoted(resume)));
  ASSERT_EQ(resumed.run.status, 0) << resumed.run.output;
  const Timed uninterrupted = run_shell(mpirun("-np 2 " + tool("crunet-train") + quoted(whole)));
  ASSERT_EQ(uninterrupted.run.status, 0) << uninterrupted.run.output;
  EXPECT_EQ(read_file(folder + "/run/model.safetensors"), read_file(folder + "/whole/model.safetensors"));
  const json a = json::parse(epoch_records(folder + "/run").back());
  const json b = json::parse(epoch_records(folder + "/whole").back());
  EXPECT_EQ(a["train_loss"].get<double>(), b["train_loss"].get<double>());
  EXPECT_EQ(a["val_top1"].get<double>(), b["val_top1"].get<double>());
}

TEST(DistributedFailures, AHangingRankMakesTheOtherStopAfterTheTimeout) {
  const Timed hang = run_shell(mpirun("-np 2 '" + std::string(CRUNET_TEST_DIST) +
                                      "' --failure=hang --timeout=3"));
  std::printf("[ timing ] rank 1 hangs, timeout 3 s: the job ended after %.1f s\n", hang.seconds);
  EXPECT_NE(hang.run.status, 0) << hang.run.output;
  EXPECT_LT(hang.seconds, 60);
  EXPECT_NE(hang.run.output.find("did not complete within 3 s"), std::string::npos) << hang.run.output;
  EXPECT_NE(hang.run.output.find("aborting all ranks"), std::string::npos) << hang.run.output;
}

TEST(DistributedFailures, ARankThatKillsItselfStopsTheJob) {
  const Timed killed = run_shell(mpirun("-np 2 '" + std::string(CRUNET_TEST_DIST) +
                                        "' --failure=kill --timeout=20"));
  std::printf("[ timing ] rank 1 killed itself: the job ended after %.1f s\n", killed.seconds);
  EXPECT_NE(killed.run.status, 0) << killed.run.output;
  EXPECT_LT(killed.seconds, 60);
}

TEST(DistributedFailures, ARankThatFailsStopsTheOthersAtOnce) {
  // Rank 1's config is wrong: it exits with status 2 and takes the job down; rank 0, waiting for
  // it in the first broadcast, must not sit out its 40 s timeout.
  const std::string folder = fresh_folder("dist_fail");
  const std::string config = write_config(folder, 1);
  std::vector<std::string> good = {"--config", config}, bad = {"--config", config};
  for (const std::string& s : settings(400, 40)) {
    good.push_back(s);
    bad.push_back(s);
  }
  bad.insert(bad.end(), {"--set", "train.epochs=0"});
  const Timed failed = run_shell(mpirun("-np 1 " + tool("crunet-train") + quoted(good) + " : -np 1 " +
                                        tool("crunet-train") + quoted(bad)));
  std::printf("[ timing ] rank 1 failed: the job ended after %.1f s\n", failed.seconds);
  EXPECT_NE(failed.run.status, 0) << failed.run.output;
  EXPECT_LT(failed.seconds, 30);
  EXPECT_NE(failed.run.output.find("epochs"), std::string::npos) << failed.run.output;
}

}  // namespace
}  // namespace crunet::e2e
