// Preemption: a stop request at any point of a run leaves a checkpoint that resumes to exactly the
// run that was never stopped; metrics.jsonl has each record once; the best checkpoint is kept; a
// resume with another layout is refused mid-epoch. The trainer runs in this process, stopped by a
// callback at a chosen poll (it is polled after each update and before each validation batch).
#include <filesystem>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "crunet/train/checkpoint.h"
#include "crunet/train/trainer.h"
#include "e2e_util.h"

namespace crunet {
namespace {

namespace fs = std::filesystem;
using e2e::fresh_folder;
using e2e::read_file;
using e2e::write_file;
using nlohmann::json;

// 1000 training images in batches of 50: 20 updates an epoch; 500 validation images in batches of
// 100: 5 validation batches.
constexpr int kUpdatesPerEpoch = 20;

train::TrainConfig config_in(const std::string& folder, const std::vector<std::string>& extra = {}) {
  const std::string path = folder + "/config.yaml";
  if (!fs::exists(path)) write_file(path, e2e::tiny_fashion_config(folder + "/run", 2));
  std::vector<std::string> overrides{"data.train_limit=1000", "train.log_every=1"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return train::load_train_config(path, overrides);
}

// Options whose stop request comes at the `stop_at`-th poll (0: never).
train::TrainerOptions stopping_at(int stop_at, const std::string& resume = "") {
  auto polls = std::make_shared<int>(0);
  train::TrainerOptions options;
  options.console = false;
  options.resume = resume;
  options.stop_requested = [polls, stop_at] { return stop_at > 0 && ++*polls >= stop_at; };
  return options;
}

std::vector<json> metrics_of(const std::string& run, const std::string& kind) {
  std::vector<json> records;
  const std::string text = read_file(run + "/metrics.jsonl");
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const json record = json::parse(text.substr(start, end - start));
    if (record["kind"] == kind) records.push_back(record);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return records;
}

void expect_same_weights(const std::string& a_path, const std::string& b_path) {
  const SafetensorsFile a = load_safetensors(a_path), b = load_safetensors(b_path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    EXPECT_EQ(a.tensors[i].second.to_vector(), b.tensors[i].second.to_vector())
        << a.tensors[i].first;
  }
}

json trainer_state(const std::string& checkpoint) {
  return json::parse(load_safetensors(checkpoint).metadata.at("trainer"));
}

// One uninterrupted two-epoch run, shared by the tests that compare against it.
class Preemption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    straight_ = new std::string(fresh_folder("preempt_straight"));
    train::Trainer trainer(config_in(*straight_), stopping_at(0));
    const train::TrainResult result = trainer.run();
    ASSERT_FALSE(result.interrupted);
  }
  static void TearDownTestSuite() { delete straight_; }
  static std::string* straight_;
};
std::string* Preemption::straight_ = nullptr;

TEST_F(Preemption, AStopDuringValidationResumesToTheUninterruptedRun) {
  const std::string folder = fresh_folder("preempt_validation");
  {
    // Polls 1-20 follow the updates of epoch 1; 21 and on come before its validation batches.
    train::Trainer trainer(config_in(folder), stopping_at(kUpdatesPerEpoch + 3));
    const train::TrainResult result = trainer.run();
    ASSERT_TRUE(result.interrupted);
    const json state = trainer_state(result.checkpoint);
    EXPECT_EQ(state["epoch"], 0) << "the epoch stays open until it is validated";
    EXPECT_EQ(state["step_in_epoch"], kUpdatesPerEpoch);
    EXPECT_NE(read_file(folder + "/run/train.log").find("during the validation of epoch 1"),
              std::string::npos);
    EXPECT_TRUE(metrics_of(folder + "/run", "epoch").empty()) << "no record of a half validation";
  }
  train::Trainer resumed(config_in(folder), stopping_at(0, "auto"));
  ASSERT_FALSE(resumed.run().interrupted);
  expect_same_weights(*straight_ + "/run/model.safetensors", folder + "/run/model.safetensors");
  const std::vector<json> want = metrics_of(*straight_ + "/run", "epoch");
  const std::vector<json> got = metrics_of(folder + "/run", "epoch");
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i]["epoch"], want[i]["epoch"]);
    EXPECT_EQ(got[i]["val_top1"], want[i]["val_top1"]);
    EXPECT_EQ(got[i]["train_loss"], want[i]["train_loss"]);
  }
}

TEST_F(Preemption, RecordsWrittenAfterTheCheckpointAppearOnceAfterTheResume) {
  const std::string folder = fresh_folder("preempt_metrics");
  {
    // Checkpoints every 5 updates; stopped at update 8, whose checkpoint is then lost (as if the
    // process had been killed after update 8): metrics.jsonl holds updates 6-8 the resume redoes.
    train::Trainer trainer(config_in(folder, {"train.checkpoint_every=5", "train.keep_checkpoints=9"}),
                           stopping_at(8));
    const train::TrainResult result = trainer.run();
    ASSERT_TRUE(result.interrupted);
    fs::remove(result.checkpoint);
  }
  ASSERT_EQ(metrics_of(folder + "/run", "step").size(), 8u);
  train::Trainer resumed(config_in(folder, {"train.checkpoint_every=5", "train.keep_checkpoints=9"}),
                         stopping_at(0, "auto"));
  EXPECT_EQ(resumed.state().global_step, 5);
  ASSERT_FALSE(resumed.run().interrupted);

  const std::vector<json> want = metrics_of(*straight_ + "/run", "step");
  const std::vector<json> got = metrics_of(folder + "/run", "step");
  ASSERT_EQ(got.size(), want.size());
  std::set<std::int64_t> steps;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(steps.insert(got[i]["global_step"].get<std::int64_t>()).second)
        << "update " << got[i]["global_step"] << " recorded twice";
    EXPECT_EQ(got[i]["global_step"], want[i]["global_step"]);
    EXPECT_EQ(got[i]["loss"], want[i]["loss"]) << "update " << want[i]["global_step"];
  }
  EXPECT_EQ(metrics_of(folder + "/run", "epoch").size(), 2u);
}

TEST_F(Preemption, AnAutoResumeWithoutACheckpointStartsTheRecordsAfresh) {
  const std::string folder = fresh_folder("preempt_no_checkpoint");
  {
    // Killed at update 8 before any checkpoint (its stop checkpoint removed): metrics.jsonl holds
    // updates 1-8, and the requeued --resume auto finds nothing to resume from.
    train::Trainer trainer(config_in(folder), stopping_at(8));
    const train::TrainResult result = trainer.run();
    ASSERT_TRUE(result.interrupted);
    fs::remove_all(folder + "/run/checkpoints");
  }
  ASSERT_EQ(metrics_of(folder + "/run", "step").size(), 8u);
  train::Trainer restarted(config_in(folder), stopping_at(0, "auto"));
  EXPECT_EQ(restarted.state().global_step, 0);
  ASSERT_FALSE(restarted.run().interrupted);
  const std::vector<json> want = metrics_of(*straight_ + "/run", "step");
  const std::vector<json> got = metrics_of(folder + "/run", "step");
  ASSERT_EQ(got.size(), want.size()) << "the first attempt's updates recorded a second time";
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["global_step"], want[i]["global_step"]);
  }
}

TEST_F(Preemption, AResumeFromAnEarlierCheckpointSetsTheLaterOnesAside) {
  const std::string folder = fresh_folder("preempt_earlier");
  const std::string checkpoints = folder + "/run/checkpoints";
  {
    train::Trainer trainer(config_in(folder, {"train.checkpoint_every=5", "train.keep_checkpoints=9"}),
                           stopping_at(0));
    ASSERT_FALSE(trainer.run().interrupted);
  }
  const std::string earlier = train::checkpoint_path(checkpoints, 10);
  ASSERT_TRUE(fs::is_regular_file(earlier));
  const std::vector<std::string> later = train::list_checkpoints(checkpoints);
  ASSERT_GT(later.size(), 2u);
  // Back to update 10 and stopped 3 updates on, keeping 2 checkpoints: the run's own checkpoint
  // of update 13 must survive the pruning and be the one --resume auto finds.
  train::Trainer resumed(config_in(folder, {"train.checkpoint_every=5", "train.keep_checkpoints=2"}),
                         stopping_at(3, earlier));
  const train::TrainResult result = resumed.run();
  ASSERT_TRUE(result.interrupted);
  EXPECT_EQ(result.checkpoint, train::checkpoint_path(checkpoints, 13));
  EXPECT_TRUE(fs::is_regular_file(result.checkpoint));
  EXPECT_EQ(train::latest_valid_checkpoint(checkpoints, [](const std::string&) {}),
            result.checkpoint);
  // Nothing deleted: the abandoned run's later checkpoints are set aside, all of them.
  for (const std::string& path : later) {
    if (path == earlier || path < earlier) continue;
    EXPECT_TRUE(fs::is_regular_file(fs::path(checkpoints) / "superseded-after-10" /
                                    fs::path(path).filename()))
        << path;
  }
  EXPECT_NE(read_file(folder + "/run/train.log").find("superseded-after-10"), std::string::npos);
  // Back to update 10 once more: update 13's checkpoint goes to a folder of its own, the first
  // set-aside ones stay as they were.
  train::Trainer again(config_in(folder, {"train.checkpoint_every=5", "train.keep_checkpoints=2"}),
                       stopping_at(1, earlier));
  ASSERT_TRUE(again.run().interrupted);
  EXPECT_TRUE(fs::is_regular_file(fs::path(checkpoints) / "superseded-after-10-2" /
                                  fs::path(result.checkpoint).filename()));
  for (const std::string& path : later) {
    if (path <= earlier) continue;
    EXPECT_TRUE(fs::is_regular_file(fs::path(checkpoints) / "superseded-after-10" /
                                    fs::path(path).filename()))
        << path;
  }
}

TEST_F(Preemption, AResumeFromTheBestEpochsCheckpointLinksBestAgain) {
  const std::string folder = fresh_folder("preempt_best_link");
  const std::string checkpoints = folder + "/run/checkpoints";
  {
    // Stopped early in epoch 2, after epoch 1's validation (its polls follow update 20).
    train::Trainer trainer(config_in(folder, {"train.keep_checkpoints=9"}),
                           stopping_at(kUpdatesPerEpoch + 8));
    const train::TrainResult result = trainer.run();
    ASSERT_TRUE(result.interrupted);
    ASSERT_GT(trainer_state(result.checkpoint)["global_step"], kUpdatesPerEpoch);
    // As if killed after epoch 1's checkpoint was written but before best.safetensors was linked.
    fs::remove(result.checkpoint);
    ASSERT_TRUE(fs::remove(train::best_checkpoint_path(checkpoints)));
  }
  const std::string epoch_end = train::checkpoint_path(checkpoints, kUpdatesPerEpoch);
  ASSERT_EQ(trainer_state(epoch_end)["best_epoch"], 1);
  train::Trainer resumed(config_in(folder, {"train.keep_checkpoints=9"}), stopping_at(0, "auto"));
  EXPECT_EQ(resumed.state().global_step, kUpdatesPerEpoch);
  const std::string best = train::best_checkpoint_path(checkpoints);
  ASSERT_TRUE(fs::is_regular_file(best)) << "the best epoch's checkpoint is best.safetensors again";
  EXPECT_EQ(trainer_state(best)["best_epoch"], 1);
}

TEST_F(Preemption, TheBestCheckpointByValidationTopOneIsKeptBesideTheNewest) {
  const std::string best = train::best_checkpoint_path(*straight_ + "/run/checkpoints");
  ASSERT_TRUE(fs::is_regular_file(best));
  EXPECT_NO_THROW(train::verify_checkpoint(best));
  double top1 = -1;
  std::int64_t epoch = 0;
  for (const json& record : metrics_of(*straight_ + "/run", "epoch")) {
    if (record["val_top1"].get<double>() > top1) {
      top1 = record["val_top1"].get<double>();
      epoch = record["epoch"].get<std::int64_t>();
    }
  }
  const json state = trainer_state(best);
  EXPECT_EQ(state["best_top1"].get<double>(), top1);
  EXPECT_EQ(state["best_epoch"].get<std::int64_t>(), epoch);
  EXPECT_EQ(state["epoch"].get<std::int64_t>(), epoch) << "the state right after that epoch";
  // Pruning keeps it: it is not one of the numbered checkpoints.
  for (const std::string& path : train::list_checkpoints(*straight_ + "/run/checkpoints")) {
    EXPECT_NE(path, best);
  }
}

TEST_F(Preemption, AnotherLayoutIsRefusedMidEpochAndTakenAtAnEpochBoundary) {
  const std::string folder = fresh_folder("preempt_layout");
  std::string mid_epoch;
  {
    train::Trainer trainer(config_in(folder), stopping_at(7));
    mid_epoch = trainer.run().checkpoint;
  }
  try {
    train::Trainer resumed(config_in(folder, {"data.batch_size=25"}), stopping_at(0, mid_epoch));
    FAIL() << "a mid-epoch checkpoint of batch 50 resumed at batch 25";
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(mid_epoch), std::string::npos) << m;
    EXPECT_NE(m.find("written mid-epoch (epoch 1, update 7) by 1 process(es) x data.batch_size 50 "
                     "x train.accumulate 1; this run has 1 x 25 x 1"),
              std::string::npos)
        << m;
  }
  // The end of epoch 1 of the uninterrupted run: any layout continues from there.
  const std::string boundary = train::checkpoint_path(*straight_ + "/run/checkpoints", kUpdatesPerEpoch);
  ASSERT_TRUE(fs::exists(boundary));
  train::Trainer resumed(config_in(folder, {"data.batch_size=25"}), stopping_at(0, boundary));
  EXPECT_EQ(resumed.state().epoch, 1);
  EXPECT_EQ(resumed.state().batch_size, 25);
  EXPECT_NE(read_file(folder + "/run/train.log").find("global batch changes from 50 to 25"),
            std::string::npos);
}

TEST_F(Preemption, AStopDuringValidationResumesInAnotherLayoutWithOnlyTheValidationLeft) {
  const std::string folder = fresh_folder("preempt_validation_layout");
  std::string checkpoint;
  {
    train::Trainer trainer(config_in(folder), stopping_at(kUpdatesPerEpoch + 2));
    const train::TrainResult result = trainer.run();
    ASSERT_TRUE(result.interrupted);
    checkpoint = result.checkpoint;
    EXPECT_EQ(trainer_state(checkpoint)["epoch_updates"], kUpdatesPerEpoch);
  }
  // Batch 25: 40 updates an epoch. Epoch 1's 20 updates of 50 are its whole training.
  train::Trainer resumed(config_in(folder, {"data.batch_size=25"}), stopping_at(0, checkpoint));
  EXPECT_EQ(resumed.state().epoch, 0);
  EXPECT_EQ(resumed.state().step_in_epoch, 2 * kUpdatesPerEpoch) << "nothing of epoch 1 to train";
  EXPECT_EQ(resumed.state().epoch_updates, 2 * kUpdatesPerEpoch);
  ASSERT_FALSE(resumed.run().interrupted);
  EXPECT_EQ(resumed.state().global_step, kUpdatesPerEpoch + 2 * kUpdatesPerEpoch);
  const std::vector<json> want = metrics_of(*straight_ + "/run", "epoch");
  const std::vector<json> got = metrics_of(folder + "/run", "epoch");
  ASSERT_EQ(got.size(), 2u);
  // Epoch 1: the same weights validated, the same training records.
  EXPECT_EQ(got[0]["val_top1"], want[0]["val_top1"]);
  EXPECT_EQ(got[0]["train_loss"], want[0]["train_loss"]);
  EXPECT_NE(read_file(folder + "/run/train.log").find("global batch changes from 50 to 25"),
            std::string::npos);
}

TEST(CheckpointEveryMinutes, ATimerCheckpointsWhateverTheUpdateCount) {
  const std::string folder = fresh_folder("preempt_timer");
  // 1 ms: every update outlasts it, so every update checkpoints (the timer, not a count).
  train::Trainer trainer(config_in(folder, {"train.epochs=1", "train.checkpoint_every=0.001s",
                                            "train.keep_checkpoints=100"}),
                         stopping_at(0));
  trainer.run();
  EXPECT_EQ(train::list_checkpoints(folder + "/run/checkpoints").size(),
            static_cast<std::size_t>(kUpdatesPerEpoch));
}

}  // namespace
}  // namespace crunet
