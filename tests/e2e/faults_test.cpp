// crunet-train under faults (docs/reliability.md): SIGINT, damaged checkpoints and --resume,
// a checkpoint write that fails, several config mistakes at once. Every run must end with status
// 0, 1 or 2 and a message, never with a signal.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "e2e_util.h"

namespace crunet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string tool(const std::string& name) { return std::string(CRUNET_TOOLS_DIR) + "/" + name; }

// Runs a shell command line (stderr joined to stdout).
RunResult run_shell(const std::string& command) {
  RunResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t read;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), read);
  }
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(Faults, SigintFinishesTheUpdateWritesACheckpointAndExitsCleanly) {
  const std::string folder = fresh_folder("sigint");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 2));
  const std::string log = folder + "/train.out";
  const int pid = start_tool("crunet-train", {"--config", config}, log);
  // Interrupt in the middle of the first epoch, as Ctrl-C would.
  ASSERT_TRUE(wait_for_text(folder + "/run/metrics.jsonl", "\"kind\":\"step\"", 60));
  kill(pid, SIGINT);
  EXPECT_EQ(wait_for_exit(pid), 0) << "(128 + N: ended by signal N) " << read_file(log);
  EXPECT_NE(read_file(log).find("stopped by a signal"), std::string::npos) << read_file(log);
  EXPECT_FALSE(fs::exists(folder + "/run/model.safetensors"));
  const std::vector<std::string> checkpoints = train::list_checkpoints(folder + "/run/checkpoints");
  ASSERT_FALSE(checkpoints.empty());
  EXPECT_NO_THROW(train::verify_checkpoint(checkpoints.front()));
  const json state = json::parse(load_safetensors(checkpoints.front()).metadata.at("trainer"));
  EXPECT_EQ(state["epoch"].get<int>(), 0);
  EXPECT_GT(state["step_in_epoch"].get<int>(), 0) << "the update in progress was finished";
  EXPECT_LT(state["step_in_epoch"].get<int>(), 80) << "stopped mid-epoch";

  const RunResult resumed = run_tool("crunet-train", {"--config", config, "--resume", "auto"});
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + checkpoints.front()), std::string::npos)
      << resumed.output;
}

// One epoch of 80 updates with a checkpoint every 20; the newest three are kept: 40, 60, 80.
TEST(Faults, SigtermWhileACheckpointIsWrittenEveryUpdateLeavesEveryCheckpointValid) {
  // A checkpoint after every update, so the signal finds the trainer writing one as often as not:
  // the write in progress completes (the handler only sets a flag), one more is written at the
  // next update, and every file left verifies.
  const std::string folder = fresh_folder("sigterm_write");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const std::vector<std::string> arguments{"--config", config, "--set", "train.checkpoint_every=1",
                                           "--set", "train.keep_checkpoints=1000"};
  const std::string log = folder + "/train.out";
  const int pid = start_tool("crunet-train", arguments, log);
  ASSERT_TRUE(wait_for_text(folder + "/run/metrics.jsonl", "\"kind\":\"step\"", 60));
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_for_exit(pid), 0) << read_file(log);
  ASSERT_NE(read_file(log).find("stopped by a signal"), std::string::npos) << read_file(log);
  const std::vector<std::string> checkpoints = train::list_checkpoints(folder + "/run/checkpoints");
  ASSERT_FALSE(checkpoints.empty());
  for (const std::string& checkpoint : checkpoints) {
    EXPECT_NO_THROW(train::verify_checkpoint(checkpoint)) << checkpoint;
  }
  for (const auto& entry : fs::directory_iterator(folder + "/run/checkpoints")) {
    EXPECT_EQ(entry.path().extension(), ".safetensors") << "left behind: " << entry.path();
  }
  std::vector<std::string> resume = arguments;
  resume.insert(resume.end(), {"--resume", "auto"});
  const RunResult resumed = run_tool("crunet-train", resume);
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + checkpoints.front()), std::string::npos)
      << resumed.output;
}

class ThreeCheckpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fresh_folder(::testing::UnitTest::GetInstance()->current_test_info()->name());
    config_ = folder_ + "/config.yaml";
    write_file(config_, tiny_fashion_config(folder_ + "/run", 1));
    const RunResult first = run_tool("crunet-train", {"--config", config_, "--set",
                                                      "train.checkpoint_every=20"});
    ASSERT_EQ(first.status, 0) << first.output;
    checkpoints_ = train::list_checkpoints(folder_ + "/run/checkpoints");
    ASSERT_EQ(checkpoints_.size(), 3u);
    ASSERT_NE(checkpoints_[2].find("checkpoint-000000040"), std::string::npos) << checkpoints_[2];
  }
  std::string folder_, config_;
  std::vector<std::string> checkpoints_;  // newest first
};

TEST_F(ThreeCheckpoints, ResumeAutoSkipsDamagedCheckpointsWithAWarningEach) {
  // The newest cut short (its size gives it away), the next one with a flipped bit in a weight
  // (the checksum gives it away): --resume auto continues from the third, warning about both.
  const std::string newest = read_bytes(checkpoints_[0]);
  write_bytes(checkpoints_[0], newest.substr(0, newest.size() - 100));
  std::string second = read_bytes(checkpoints_[1]);
  second[second.size() - 10] ^= 0x04;
  write_bytes(checkpoints_[1], second);

  const RunResult resumed = run_tool("crunet-train", {"--config", config_, "--resume", "auto",
                                                      "--set", "train.epochs=2"});
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  const std::string& out = resumed.output;
  EXPECT_NE(out.find("truncated?"), std::string::npos) << out;
  EXPECT_NE(out.find(checkpoints_[1] + ": checksum mismatch"), std::string::npos) << out;
  EXPECT_NE(out.find("falling back to an older checkpoint"), std::string::npos) << out;
  EXPECT_NE(out.find("resumed from " + checkpoints_[2]), std::string::npos) << out;
  // It went on from update 40 to the end of epoch 2, writing a good update-80 checkpoint over the
  // cut one on the way.
  EXPECT_TRUE(fs::exists(folder_ + "/run/model.safetensors"));
  const std::vector<std::string> after = train::list_checkpoints(folder_ + "/run/checkpoints");
  ASSERT_GE(after.size(), 2u);
  EXPECT_NE(after[0].find("checkpoint-000000160"), std::string::npos) << after[0];
  EXPECT_EQ(after[1], checkpoints_[0]);
  for (int i = 0; i < 2; ++i) EXPECT_NO_THROW(train::verify_checkpoint(after[i])) << after[i];

  // Given explicitly, a damaged checkpoint is a user error naming it (status 2), not a crash.
  write_bytes(checkpoints_[2], "junk");
  const RunResult explicit_resume =
      run_tool("crunet-train", {"--config", config_, "--resume", checkpoints_[2]});
  EXPECT_EQ(explicit_resume.status, 2) << explicit_resume.output;
  EXPECT_NE(explicit_resume.output.find(checkpoints_[2]), std::string::npos)
      << explicit_resume.output;
}

TEST_F(ThreeCheckpoints, FailedCheckpointWriteStopsWithAClearMessageAndKeepsTheNewest) {
  // A disk that fills up, made without privileges: a file-size limit of half a checkpoint, with
  // SIGXFSZ ignored so that write() fails with EFBIG as it would with ENOSPC. The logs and metrics
  // stay far below the limit; the checkpoint at the end of epoch 2 cannot be written.
  const std::string newest = checkpoints_[0];
  const std::string before = read_bytes(newest);
  const std::uintmax_t limit_kib = before.size() / 2 / 1024;  // ulimit -f counts KiB in bash
  // The log and the metrics gain about their present size in an epoch: they must stay far below.
  for (const char* file : {"train.log", "metrics.jsonl"}) {
    ASSERT_LT(4 * fs::file_size(folder_ + "/run/" + file), limit_kib * 1024) << file;
  }
  const RunResult run = run_shell(
      "bash -c \"trap '' XFSZ; ulimit -f " + std::to_string(limit_kib) + "; exec '" +
      tool("crunet-train") + "' --config '" + config_ + "' --resume auto --set train.epochs=2\"");
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("cannot write the checkpoint"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("File too large"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("the newest earlier checkpoint, " + newest + ", is kept"),
            std::string::npos)
      << run.output;
  EXPECT_EQ(read_bytes(newest), before);
  EXPECT_NO_THROW(train::verify_checkpoint(newest));
  EXPECT_EQ(train::list_checkpoints(folder_ + "/run/checkpoints").front(), newest);
  for (const auto& entry : fs::directory_iterator(folder_ + "/run/checkpoints")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos)
        << "a temporary file was left: " << entry.path();
  }
  // And the run continues from there once there is room again.
  const RunResult again = run_tool("crunet-train", {"--config", config_, "--resume", "auto",
                                                    "--set", "train.epochs=2"});
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("resumed from " + newest), std::string::npos) << again.output;
}

TEST(Faults, SeveralConfigMistakesAreReportedTogetherBeforeAnyWork) {
  const std::string folder = fresh_folder("mistakes");
  const std::string config = folder + "/config.yaml";
  std::string text = tiny_fashion_config(folder + "/run", 1);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"  seed: 3", "  sed: 3"}, {"lr: 0.1", "lr: -1"}, {"batch_size: 50", "batch_size: big"}}) {
    text.replace(text.find(from), from.size(), to);
  }
  write_file(config, text);
  const RunResult run = run_tool("crunet-train", {"--config", config});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("config.yaml: 3 problems:"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("config.yaml:14: data.batch_size: must be an integer, got 'big'"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("config.yaml:20: optim.lr: must be positive"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("config.yaml:24: train.sed: unknown key 'sed'; did you mean 'seed'?"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(folder + "/run")) << "nothing may start before the config is checked";
}

}  // namespace
}  // namespace crunet::e2e
