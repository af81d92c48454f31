// The programs end to end on small Fashion-MNIST subsets: learning, evaluation, checkpoints,
// SIGTERM and exact resume, bad configs, a diverging loss, ten-crop evaluation.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "e2e_util.h"

namespace crunet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One short training run shared by the tests that only read its results.
class TrainedRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = new std::string(fresh_folder("trained"));
    config_ = new std::string(*folder_ + "/config.yaml");
    write_file(*config_, tiny_fashion_config(*folder_ + "/run", 2));
    result_ = new RunResult(run_tool("crunet-train", {"--config", *config_}));
  }
  static void TearDownTestSuite() {
    delete folder_;
    delete config_;
    delete result_;
  }
  static std::string* folder_;
  static std::string* config_;
  static RunResult* result_;
};
std::string* TrainedRun::folder_ = nullptr;
std::string* TrainedRun::config_ = nullptr;
RunResult* TrainedRun::result_ = nullptr;

TEST_F(TrainedRun, LossFallsAndAccuracyBeatsChanceByFar) {
  ASSERT_EQ(result_->status, 0) << result_->output;
  const std::vector<std::string> epochs = epoch_records(*folder_ + "/run");
  ASSERT_EQ(epochs.size(), 2u);
  const json first = json::parse(epochs[0]), last = json::parse(epochs[1]);
  EXPECT_LT(last["train_loss"].get<double>(), first["train_loss"].get<double>());
  EXPECT_GT(last["val_top1"].get<double>(), 0.6);  // chance is 0.1
  for (const char* file : {"config.yaml", "train.log", "metrics.jsonl", "curves.svg",
                           "model.safetensors"}) {
    EXPECT_TRUE(fs::is_regular_file(*folder_ + "/run/" + file)) << file;
  }
  const std::string curves = read_file(*folder_ + "/run/curves.svg");
  for (const char* series : {"validation top-1", "validation top-5", "learning rate"}) {
    EXPECT_NE(curves.find("<polyline data-series='" + std::string(series) + "'"), std::string::npos)
        << series;
  }
  // metrics.jsonl holds all that the curves show: redrawn from it, they are the same picture.
  train::write_training_curves(*folder_ + "/redrawn.svg",
                               train::read_epoch_records(*folder_ + "/run/metrics.jsonl"),
                               "tiny_fashion");
  EXPECT_EQ(read_file(*folder_ + "/redrawn.svg"), curves);
  EXPECT_FALSE(train::list_checkpoints(*folder_ + "/run/checkpoints").empty());
}

// bench/paper_claim.sh counts on it: a seed and a thread count fix the whole run.
TEST_F(TrainedRun, TheSameCommandAgainGivesTheSameWeightsAndMetrics) {
  ASSERT_EQ(result_->status, 0) << result_->output;
  const RunResult again =
      run_tool("crunet-train", {"--config", *config_, "--output", *folder_ + "/again"});
  ASSERT_EQ(again.status, 0) << again.output;
  const std::vector<std::string> first = epoch_records(*folder_ + "/run");
  const std::vector<std::string> second = epoch_records(*folder_ + "/again");
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t e = 0; e < first.size(); ++e) {
    const json a = json::parse(first[e]), b = json::parse(second[e]);
    for (const char* key : {"train_loss", "train_top1", "val_loss", "val_top1", "val_top5"}) {
      EXPECT_EQ(a[key].get<double>(), b[key].get<double>()) << "epoch " << e << " " << key;
    }
  }
  const SafetensorsFile a = load_safetensors(*folder_ + "/run/model.safetensors");
  const SafetensorsFile b = load_safetensors(*folder_ + "/again/model.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].second.to_vector(), b.tensors[i].second.to_vector()) << a.tensors[i].first;
  }
}

TEST_F(TrainedRun, EvalOfTheSavedWeightsReproducesTheTrainersValidation) {
  ASSERT_EQ(result_->status, 0) << result_->output;
  const json last = json::parse(epoch_records(*folder_ + "/run").back());
  for (const std::string weights :
       {*folder_ + "/run/model.safetensors",
        train::list_checkpoints(*folder_ + "/run/checkpoints").front()}) {
    const std::string out = *folder_ + "/eval.json";
    const RunResult eval =
        run_tool("crunet-eval", {"--config", *config_, "--weights", weights, "--json", out});
    ASSERT_EQ(eval.status, 0) << eval.output;
    const json result = json::parse(read_file(out));
    EXPECT_EQ(result["samples"].get<int>(), 500);
    EXPECT_EQ(result["top1"].get<double>(), last["val_top1"].get<double>()) << weights;
    EXPECT_EQ(result["top5"].get<double>(), last["val_top5"].get<double>()) << weights;
    EXPECT_NEAR(result["top1_error"].get<double>(), 1 - last["val_top1"].get<double>(), 1e-12);
  }
}

TEST(Resume, SigtermMidEpochThenResumeGivesTheUninterruptedWeights) {
  const std::string folder = fresh_folder("resume");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/unused", 2));
  const std::vector<std::string> common{"--config", config, "--set", "data.train_limit=6000"};

  std::vector<std::string> straight = common;
  straight.insert(straight.end(), {"--output", folder + "/straight"});
  const RunResult uninterrupted = run_tool("crunet-train", straight);
  ASSERT_EQ(uninterrupted.status, 0) << uninterrupted.output;

  std::vector<std::string> stopped = common;
  stopped.insert(stopped.end(), {"--output", folder + "/stopped"});
  const int pid = start_tool("crunet-train", stopped, folder + "/stopped.log");
  // Wait for the first progress record of epoch 1, then stop the run mid-epoch.
  ASSERT_TRUE(wait_for_text(folder + "/stopped/metrics.jsonl", "\"kind\":\"step\"", 60));
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_for_exit(pid), 0) << read_file(folder + "/stopped.log");
  EXPECT_NE(read_file(folder + "/stopped.log").find("stopped by a signal"), std::string::npos);
  EXPECT_FALSE(fs::exists(folder + "/stopped/model.safetensors"));
  const std::vector<std::string> checkpoints = train::list_checkpoints(folder + "/stopped/checkpoints");
  ASSERT_FALSE(checkpoints.empty());
  const SafetensorsFile newest = load_safetensors(checkpoints.front());
  const json state = json::parse(newest.metadata.at("trainer"));
  EXPECT_EQ(state["epoch"].get<int>(), 0) << "stopped in the first epoch";
  EXPECT_GT(state["step_in_epoch"].get<int>(), 0);
  EXPECT_LT(state["step_in_epoch"].get<int>(), 120);

  std::vector<std::string> resumed = stopped;
  resumed.insert(resumed.end(), {"--resume", "auto"});
  const RunResult resume = run_tool("crunet-train", resumed);
  ASSERT_EQ(resume.status, 0) << resume.output;
  EXPECT_NE(resume.output.find("resumed from"), std::string::npos) << resume.output;

  const SafetensorsFile a = load_safetensors(folder + "/straight/model.safetensors");
  const SafetensorsFile b = load_safetensors(folder + "/stopped/model.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    EXPECT_EQ(a.tensors[i].second.to_vector(), b.tensors[i].second.to_vector()) << a.tensors[i].first;
  }
}

TEST(BadInput, ConfigMistakesExitWithStatusTwoNamingFileLineAndKey) {
  const std::string folder = fresh_folder("bad");
  const std::string config = folder + "/config.yaml";
  std::string text = tiny_fashion_config(folder + "/run", 1);
  text.replace(text.find("  seed: 3"), 9, "  sed: 3");
  write_file(config, text);
  RunResult run = run_tool("crunet-train", {"--config", config});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("config.yaml:24: train.sed: unknown key 'sed'; did you mean 'seed'?"),
            std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(folder + "/run")) << "nothing may start before the config is checked";

  write_file(config, tiny_fashion_config(folder + "/run", 1));
  run = run_tool("crunet-train", {"--config", config, "--set", "optim.lr=-0.1"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("optim.lr: must be positive"), std::string::npos) << run.output;
  run = run_tool("crunet-train", {"--config", config, "--set", "data.batch_size=0"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("data.batch_size"), std::string::npos) << run.output;
  run = run_tool("crunet-train", {"--config", folder + "/missing.yaml"});
  EXPECT_EQ(run.status, 2) << run.output;
  run = run_tool("crunet-train", {"--config", config, "--set", "data.root=/nonexistent"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("/nonexistent"), std::string::npos) << run.output;
  run = run_tool("crunet-eval", {"--config", config, "--weights", config});
  EXPECT_EQ(run.status, 2) << run.output;
}

TEST(BadInput, ARunFolderThatIsAFileExitsWithStatusTwoAlsoInADryRun) {
  // It was status 1 with "filesystem error: cannot create directories", after the data were read,
  // and a dry run said that all was well.
  const std::string folder = fresh_folder("run_folder_file");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  write_file(folder + "/notes.txt", "mine\n");
  for (const std::string& output : {folder + "/notes.txt", folder + "/notes.txt/run"}) {
    for (const bool dry : {true, false}) {
      std::vector<std::string> arguments{"--config", config, "--output", output};
      if (dry) arguments.push_back("--dry-run");
      const RunResult run = run_tool("crunet-train", arguments);
      EXPECT_EQ(run.status, 2) << run.output;
      EXPECT_NE(run.output.find("--output " + output + ": the run folder cannot be made, " +
                                folder + "/notes.txt is a file, not a folder"),
                std::string::npos)
          << run.output;
    }
  }
  const RunResult by_config = run_tool(
      "crunet-train", {"--config", config, "--set", "output.dir=" + folder + "/notes.txt"});
  EXPECT_EQ(by_config.status, 2) << by_config.output;
  EXPECT_NE(by_config.output.find(config + ": output.dir " + folder + "/notes.txt"),
            std::string::npos)
      << by_config.output;
  EXPECT_EQ(read_file(folder + "/notes.txt"), "mine\n");
}

TEST(BadInput, ModelChannelsThatAreNotTheImagesExitWithStatusTwoAlsoInADryRun) {
  // An RGB model on gray IDX images failed at the first forward pass ("input must be [N, 3, H,
  // W]"), after the run folder was made; a dry run passed it.
  const std::string folder = fresh_folder("channels");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  for (const bool dry : {true, false}) {
    std::vector<std::string> arguments{"--config", config, "--set", "model.input.channels=3"};
    if (dry) arguments.push_back("--dry-run");
    const RunResult run = run_tool("crunet-train", arguments);
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find(config + ": data.channels: the images are decoded to 1 channel(s) "
                                       "but model.input.channels is 3"),
              std::string::npos)
        << run.output;
  }
  EXPECT_FALSE(fs::exists(folder + "/run"));
}

TEST(BadInput, AFolderGivenToResumeIsNamedAsAFolder) {
  // It said "no such checkpoint file" of a folder that is there.
  const std::string folder = fresh_folder("resume_folder");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const RunResult run =
      run_tool("crunet-train", {"--config", config, "--resume", folder, "--dry-run"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("--resume " + folder + ": is a folder, not a checkpoint file"),
            std::string::npos)
      << run.output;
}

TEST(BadInput, ModelSpecMistakesExitWithStatusTwoInCrunetInfo) {
  const std::string folder = fresh_folder("bad_spec");
  const std::string spec = folder + "/model.yaml";
  write_file(spec, "name: x\nclasses: 10\nstages:\n  - {unit: res, units: 2, width: 64, bottleneck: 30, groups: 4}\n");
  RunResult run = run_tool("crunet-info", {"--config", spec});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("model.yaml:4: stages[0].groups"), std::string::npos) << run.output;
  run = run_tool("crunet-info", {"--config", "crunet56", "--json"});
  EXPECT_EQ(run.status, 0) << run.output;
  const json info = json::parse(run.output);
  EXPECT_EQ(info["params"].get<std::int64_t>(), 25609384);
  EXPECT_EQ(info["macs"].get<std::int64_t>(), 5634153472);
  run = run_tool("crunet-info", {"--config", "nosuchmodel"});
  EXPECT_EQ(run.status, 2) << run.output;
  run = run_tool("crunet-info", {"--bogus-flag"});
  EXPECT_EQ(run.status, 2) << run.output;
}

TEST(BadInput, DivergingLossStopsAndLeavesTheLastGoodCheckpoint) {
  const std::string folder = fresh_folder("nan");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const RunResult run = run_tool("crunet-train", {"--config", config, "--set", "optim.lr=1e15",
                                                  "--set", "schedule.type=constant", "--set",
                                                  "train.checkpoint_every=1"});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_TRUE(run.output.find("NaN") != std::string::npos ||
              run.output.find("infinite") != std::string::npos)
      << run.output;
  const std::vector<std::string> checkpoints = train::list_checkpoints(folder + "/run/checkpoints");
  ASSERT_FALSE(checkpoints.empty());
  EXPECT_NO_THROW(train::verify_checkpoint(checkpoints.front()));
  EXPECT_NE(run.output.find(checkpoints.front()), std::string::npos) << run.output;
}

TEST(DryRun, BuildsEverythingAndTrainsNothing) {
  const std::string folder = fresh_folder("dry");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const RunResult run = run_tool("crunet-train", {"--config", config, "--dry-run"});
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("dry run: memory per process (estimate)"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("nothing was written"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(folder + "/run")) << "a dry run creates no run folder";
}

TEST(DryRun, ACudaConfigIsCheckedOnAMachineWithoutAGpu) {
  if (cuda_is_available()) GTEST_SKIP() << "this machine has a GPU: the login-node case needs none";
  const std::string folder = fresh_folder("dry_cuda");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const RunResult run =
      run_tool("crunet-train", {"--config", config, "--set", "train.device=cuda", "--dry-run"});
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("no CUDA GPU on this machine"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(folder + "/run"));
  // The same config trained for real is a user error, as before.
  const RunResult real = run_tool("crunet-train", {"--config", config, "--set", "train.device=cuda"});
  EXPECT_EQ(real.status, 2) << real.output;
  EXPECT_NE(real.output.find("no usable CUDA GPU"), std::string::npos) << real.output;
  // A data error is still found in a dry run.
  const RunResult bad = run_tool("crunet-train", {"--config", config, "--set", "train.device=cuda",
                                                  "--set", "data.root=" + folder + "/nowhere",
                                                  "--dry-run"});
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("nowhere"), std::string::npos) << bad.output;
}

TEST(InitWeights, TrainingStartsFromTheGivenWeightsAndCanKeepANewClassifier) {
  const std::string folder = fresh_folder("init");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const train::TrainConfig parsed = train::load_train_config(config, {});
  manual_seed(77);  // not the run's seed (3): these weights differ from its own initialisation
  auto start = models::build(parsed.model);
  const std::string weights = folder + "/start.safetensors";
  save_weights(*start, weights);
  // One update at a negligible learning rate: the trained weights are the initial ones.
  const RunResult run = run_tool("crunet-train", {"--config", config, "--init", weights, "--set",
                                                  "optim.lr=1e-9", "--set", "data.train_limit=50"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("initial weights from " + weights), std::string::npos) << run.output;
  const SafetensorsFile trained = load_safetensors(folder + "/run/model.safetensors");
  const std::vector<float> want = start->state_dict().front().second.to_vector();
  const std::vector<float> got = trained.at(start->state_dict().front().first).to_vector();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;

  // Weights of a 7-class model: status 2 naming the classifier, unless it is kept at random.
  models::ModelSpec seven = parsed.model;
  seven.classes = 7;
  manual_seed(78);
  save_weights(*models::build(seven), weights);
  const RunResult mismatch =
      run_tool("crunet-train", {"--config", config, "--init", weights, "--dry-run"});
  EXPECT_EQ(mismatch.status, 2) << mismatch.output;
  EXPECT_NE(mismatch.output.find("'fc.weight' has shape [7, 32]"), std::string::npos)
      << mismatch.output;
  const RunResult kept = run_tool(
      "crunet-train", {"--config", config, "--init", weights, "--init-keep", "fc.", "--dry-run"});
  EXPECT_EQ(kept.status, 0) << kept.output;
}

TEST(InitWeights, ACheckpointServesAsInitialWeights) {
  // docs/cli.md: "a model.safetensors or a checkpoint works too"; a checkpoint was refused, its
  // "model." and "optim." tensors listed as unexpected.
  const std::string folder = fresh_folder("init_checkpoint");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const RunResult first =
      run_tool("crunet-train", {"--config", config, "--set", "data.train_limit=50"});
  ASSERT_EQ(first.status, 0) << first.output;
  const std::vector<std::string> checkpoints = train::list_checkpoints(folder + "/run/checkpoints");
  ASSERT_FALSE(checkpoints.empty());
  const RunResult init = run_tool("crunet-train", {"--config", config, "--output", folder + "/run2",
                                                   "--init", checkpoints.front(), "--dry-run"});
  EXPECT_EQ(init.status, 0) << init.output;
  EXPECT_NE(init.output.find("initial weights from " + checkpoints.front()), std::string::npos)
      << init.output;
  const RunResult typo = run_tool(
      "crunet-train",
      {"--config", config, "--init", checkpoints.front(), "--init-keep", "fc_", "--dry-run"});
  EXPECT_EQ(typo.status, 2) << typo.output;
  EXPECT_NE(typo.output.find("the keep prefix 'fc_' matches no tensor of the model"),
            std::string::npos)
      << typo.output;
}

TEST(TenCrop, EvaluatesAnImageFolderEndToEnd) {
  if (!data::image_files_supported()) GTEST_SKIP() << "this build has no OpenCV to write images";
  const std::string folder = fresh_folder("tencrop");
  // Two classes that differ in brightness; 12 training and 6 validation images each.
  for (const char* split : {"train", "val"}) {
    for (int label = 0; label < 2; ++label) {
      const std::string dir = folder + "/images/" + split + "/class" + std::to_string(label);
      fs::create_directories(dir);
      const int count = std::string(split) == "train" ? 12 : 6;
      for (int i = 0; i < count; ++i) {
        data::Image image{40, 48, 3, std::vector<std::uint8_t>(40 * 48 * 3)};
        Generator noise(static_cast<std::uint64_t>(label * 1000 + i + (split[0] == 'v') * 500));
        for (auto& p : image.pixels) p = static_cast<std::uint8_t>((label ? 170 : 60) + noise.below(40));
        data::write_image(dir + "/" + std::to_string(i) + ".png", image);
      }
    }
  }
  const std::string config = folder + "/config.yaml";
  write_file(config, R"(model:
  name: tiny_rgb
  input: {channels: 3, size: 32}
  classes: 2
  stem: {type: small, width: 8, stride: 1}
  stages:
    - {unit: cru, units: 2, width: 16, bottleneck: 8, share: 2, stride: 2}
data:
  format: image_folder
  root: )" + folder + R"(/images
  batch_size: 8
  workers: 2
  augment: {crop: random_area, area: [0.5, 1.0], size: 32}
  eval: {resize: 36, size: 32}
optim: {lr: 0.05}
train: {epochs: 4, log_every: 1}
output: {dir: )" + folder + R"(/run}
)");
  RunResult run = run_tool("crunet-train", {"--config", config});
  ASSERT_EQ(run.status, 0) << run.output;
  const std::string out = folder + "/tencrop.json";
  run = run_tool("crunet-eval", {"--config", config, "--weights", folder + "/run/model.safetensors",
                                 "--ten-crop", "--json", out});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("10-crop"), std::string::npos) << run.output;
  const json result = json::parse(read_file(out));
  EXPECT_EQ(result["samples"].get<int>(), 12);
  EXPECT_TRUE(result["ten_crop"].get<bool>());
  EXPECT_GE(result["top1"].get<double>(), 0.0);
  EXPECT_LE(result["top1"].get<double>(), 1.0);
  EXPECT_EQ(result["top5"].get<double>(), 1.0);  // two classes: always among the top 2
}

}  // namespace
}  // namespace crunet::e2e
