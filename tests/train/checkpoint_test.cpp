// Checkpoints under faults: a writer killed in the middle of a write, a write that fails, and
// files damaged on disk. The newest valid checkpoint must always survive and be found.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/temp_dir.h"

namespace crunet::train {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A small model with its optimiser, and a checkpoint of it at `step`.
struct SmallRun {
  nn::Linear model{4, 3};
  optim::SGD optimizer{model.named_parameters(), optim::SGDOptions{}};
  std::string save(const std::string& folder, std::int64_t step) {
    TrainerState state;
    state.global_step = step;
    state.step_in_epoch = step;
    const std::string path = checkpoint_path(folder, step);
    save_checkpoint(path, model, optimizer, state, "model: tiny\n");
    return path;
  }
};

std::vector<std::string> temporaries(const std::string& folder) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

std::vector<std::string> warnings_of(const std::string& folder, std::string* latest) {
  std::vector<std::string> warnings;
  *latest = latest_valid_checkpoint(folder, [&](const std::string& m) { warnings.push_back(m); });
  return warnings;
}

// 64 MiB of float32: long enough a write that a kill lands in the middle of it.
std::vector<std::pair<std::string, Tensor>> large_tensors() {
  return {{"model.weight", full({16 * 1024 * 1024}, 0.5)}};
}

TEST(CheckpointFaults, WriterKilledMidWriteLeavesThePreviousCheckpointIntact) {
  const testing::TempDir scratch("checkpoint_test");
  const std::string folder = scratch.path();
  SmallRun run;
  const std::string previous = run.save(folder, 10);
  const std::string before = read_bytes(previous);
  const auto tensors = large_tensors();
  bool killed_mid_write = false;
  // The kill must land while the temporary file is being written; a writer that finished first
  // (a race the test cannot rule out) is simply tried again.
  for (int attempt = 0; attempt < 5 && !killed_mid_write; ++attempt) {
    write_bytes(previous, before);
    const pid_t writer = fork();
    ASSERT_GE(writer, 0);
    if (writer == 0) {
      // Overwrites the previous checkpoint's very name, the worst case.
      try {
        save_safetensors(previous, tensors, {{"format", "crunet-checkpoint"}});
      } catch (...) {
        _exit(3);
      }
      _exit(0);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool started = false;
    while (!started && std::chrono::steady_clock::now() < deadline) {
      for (const std::string& temporary : temporaries(folder)) {
        std::error_code error;
        if (fs::file_size(temporary, error) > 0 && !error) started = true;
      }
      if (waitpid(writer, nullptr, WNOHANG) == writer) break;  // finished before we saw it
    }
    if (started) kill(writer, SIGKILL);
    int status = 0;
    waitpid(writer, &status, 0);
    killed_mid_write = started && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }
  ASSERT_TRUE(killed_mid_write) << "the writer always finished before it could be killed";
  EXPECT_EQ(read_bytes(previous), before) << "the previous checkpoint changed";
  EXPECT_FALSE(temporaries(folder).empty()) << "the killed write left its partial file";
  std::string latest;
  const std::vector<std::string> warnings = warnings_of(folder, &latest);
  EXPECT_EQ(latest, previous);
  EXPECT_NO_THROW(verify_checkpoint(previous));
  // The partial file of the dead writer is removed (and said so), never taken for a checkpoint.
  EXPECT_TRUE(temporaries(folder).empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("left by a checkpoint write that was killed"), std::string::npos)
      << warnings[0];
}

TEST(CheckpointFaults, WriterKilledByTheFileSizeLimitLeavesThePreviousCheckpointIntact) {
  // Deterministic cousin of the test above: RLIMIT_FSIZE makes the kernel kill the writer with
  // SIGXFSZ exactly when its file passes 1 MiB, in the middle of the tensor data.
  const testing::TempDir scratch("checkpoint_test");
  const std::string folder = scratch.path();
  SmallRun run;
  const std::string previous = run.save(folder, 10);
  const std::string before = read_bytes(previous);
  const auto tensors = large_tensors();
  const pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    signal(SIGXFSZ, SIG_DFL);
    const rlimit limit{1 << 20, 1 << 20};
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      save_safetensors(checkpoint_path(folder, 20), tensors, {{"format", "crunet-checkpoint"}});
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) << status;
  EXPECT_FALSE(fs::exists(checkpoint_path(folder, 20)));
  EXPECT_EQ(read_bytes(previous), before);
  std::string latest;
  warnings_of(folder, &latest);
  EXPECT_EQ(latest, previous);
}

TEST(CheckpointFaults, FailedWriteIsAClearErrorAndKeepsTheNewestCheckpoint) {
  const testing::TempDir scratch("checkpoint_test");
  const std::string folder = scratch.path();
  SmallRun run;
  const std::string previous = run.save(folder, 10);
  const std::string before = read_bytes(previous);
  // A disk that fills up: the file-size limit makes write() fail with EFBIG (SIGXFSZ ignored).
  // The error is checked in a child process, which alone has the limit.
  const nn::Linear bigger(4096, 64);  // 1 MiB of weights, made before the fork
  const pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64 << 10, 64 << 10};
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      save_checkpoint(checkpoint_path(folder, 20), bigger, run.optimizer,
                      TrainerState{}, "model: tiny\n");
    } catch (const RuntimeError& e) {
      const std::string m = e.what();
      const bool clear = m.find("cannot write the checkpoint " + checkpoint_path(folder, 20)) == 0 &&
                         m.find("File too large") != std::string::npos &&
                         m.find("the newest earlier checkpoint, " + previous + ", is kept") !=
                             std::string::npos;
      if (!clear) fprintf(stderr, "unclear message: %s\n", m.c_str());
      _exit(clear ? 0 : 4);
    } catch (...) {
      _exit(5);
    }
    _exit(6);
  }
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "0: clear RuntimeError, 4: unclear, 5: other, 6: none";
  EXPECT_FALSE(fs::exists(checkpoint_path(folder, 20)));
  EXPECT_TRUE(temporaries(folder).empty()) << "a failed write removes its temporary file";
  EXPECT_EQ(read_bytes(previous), before);

  // A folder that cannot be written even by root: its path is taken by a regular file.
  const std::string blocked = folder + "/blocked";
  write_bytes(blocked, "not a folder");
  try {
    run.save(blocked, 30);
    ADD_FAILURE() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write the checkpoint " + blocked), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("no earlier checkpoint exists"), std::string::npos)
        << e.what();
  }
}

// Damages a copy of a good checkpoint in one way and checks that verification refuses it.
class CorruptCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = scratch_.path();
    good_ = run_.save(folder_, 10);
    bytes_ = read_bytes(good_);
    header_ = 8 + static_cast<std::size_t>(static_cast<unsigned char>(bytes_[0]) |
                                           (static_cast<unsigned char>(bytes_[1]) << 8));
  }
  std::string damaged(const std::string& bytes) {
    const std::string path = run_.save(folder_, 20);
    write_bytes(path, bytes);
    return path;
  }
  std::string refusal(const std::string& path) {
    try {
      verify_checkpoint(path);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  }
  SmallRun run_;
  testing::TempDir scratch_{"checkpoint_test"};
  std::string folder_, good_, bytes_;
  std::size_t header_ = 0;
};

TEST_F(CorruptCheckpoint, TruncatedFileIsRefusedBySize) {
  const std::string path = damaged(bytes_.substr(0, bytes_.size() - 7));
  EXPECT_NE(refusal(path).find("truncated"), std::string::npos) << refusal(path);
  write_bytes(path, "");
  EXPECT_NE(refusal(path).find("fewer than the 8"), std::string::npos) << refusal(path);
}

TEST_F(CorruptCheckpoint, FlippedDataByteIsRefusedByTheChecksum) {
  std::string bytes = bytes_;
  bytes[bytes.size() - 3] ^= 0x10;
  const std::string path = damaged(bytes);
  EXPECT_NE(refusal(path).find("checksum mismatch"), std::string::npos) << refusal(path);
}

TEST_F(CorruptCheckpoint, ChangedHeaderIsRefusedByTheHeaderChecksum) {
  // A digit of the trainer state ("global_step":10 -> 30) and a shape ([3,4] -> [4,3]): valid
  // JSON and a valid layout, caught only by meta_crc32.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\\\"global_step\\\":10", "\\\"global_step\\\":30"}, {"[3,4]", "[4,3]"}}) {
    std::string bytes = bytes_;
    const std::size_t at = bytes.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    ASSERT_LT(at, header_);
    bytes.replace(at, from.size(), to);
    const std::string path = damaged(bytes);
    EXPECT_NE(refusal(path).find("checksum mismatch in the header"), std::string::npos)
        << from << ": " << refusal(path);
  }
}

TEST_F(CorruptCheckpoint, GarbageHeaderIsRefused) {
  std::string bytes = bytes_;
  bytes[12] = '\x01';
  const std::string path = damaged(bytes);
  EXPECT_NE(refusal(path).find("not valid JSON"), std::string::npos) << refusal(path);
}

TEST_F(CorruptCheckpoint, LatestValidFallsBackOverEveryDamagedOneWithAWarningEach) {
  // 10 good; 20 truncated; 30 with a flipped data byte: the fallback lands on 10.
  damaged(bytes_.substr(0, bytes_.size() / 2));
  std::string flipped = read_bytes(run_.save(folder_, 30));
  flipped[flipped.size() - 1] ^= 0x01;
  write_bytes(checkpoint_path(folder_, 30), flipped);
  std::string latest;
  const std::vector<std::string> warnings = warnings_of(folder_, &latest);
  EXPECT_EQ(latest, good_);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find(checkpoint_path(folder_, 30)), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("falling back to an older checkpoint"), std::string::npos);
  EXPECT_NE(warnings[1].find(checkpoint_path(folder_, 20)), std::string::npos) << warnings[1];
  // Nothing valid at all: "" and a warning per file.
  write_bytes(good_, "junk");
  EXPECT_EQ(warnings_of(folder_, &latest).size(), 3u);
  EXPECT_EQ(latest, "");
}

}  // namespace
}  // namespace crunet::train
