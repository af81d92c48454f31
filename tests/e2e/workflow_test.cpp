// The worked example of docs/user-guide.md ("A run from start to end"), step by step on small
// generated data laid out as ImageNet comes: class folders of JPEGs for training, a flat
// validation folder with a label file. crunet-make-list writes the lists, crunet-train --dry-run
// checks everything, the run is stopped by SIGTERM and resumed, crunet-eval evaluates the result.
#include <signal.h>

#include <filesystem>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "e2e_util.h"

namespace crunet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kClasses = 3;
constexpr int kTrainPerClass = 48;
constexpr int kValImages = 12;
const char* kWnids[kClasses] = {"n01440764", "n01443537", "n01484850"};

// Class c is brighter with c (learnable in a few updates), with per-image noise.
void save_jpeg(const std::string& path, int label, int seed) {
  fs::create_directories(fs::path(path).parent_path());
  data::Image image{32, 32, 3, std::vector<std::uint8_t>(32 * 32 * 3)};
  Generator noise(static_cast<std::uint64_t>(seed));
  for (auto& p : image.pixels) p = static_cast<std::uint8_t>(30 + 80 * label + noise.below(50));
  data::write_image(path, image);
}

// train/<wnid>/*.JPEG, val/ILSVRC2012_val_*.JPEG and val_labels.txt ("<file> <wnid>").
void make_imagenet_layout(const std::string& root) {
  for (int c = 0; c < kClasses; ++c) {
    for (int i = 0; i < kTrainPerClass; ++i) {
      save_jpeg(root + "/train/" + kWnids[c] + "/" + kWnids[c] + "_" + std::to_string(i) + ".JPEG",
                c, 100 * c + i);
    }
  }
  std::ostringstream labels;
  for (int i = 1; i <= kValImages; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "ILSVRC2012_val_%08d.JPEG", i);
    save_jpeg(root + "/val/" + name, i % kClasses, 10000 + i);
    labels << name << " " << kWnids[i % kClasses] << "\n";
  }
  write_file(root + "/val_labels.txt", labels.str());
}

std::string workflow_config(const std::string& root, const std::string& output) {
  return "model:\n  name: tiny_imagenet\n  input: {channels: 3, size: 32}\n  classes: 3\n"
         "  stem: {type: small, width: 8, stride: 1}\n  stages:\n"
         "    - {unit: res, units: 1, width: 16, bottleneck: 8, groups: 2, stride: 2}\n"
         "    - {unit: cru, units: 2, width: 32, bottleneck: 16, share: 2, stride: 2}\n"
         "data:\n  format: list\n  root: " + root + "\n"
         "  train: [train.lst, train]\n  val: [val.lst, val]\n  class_map: train.classes\n"
         "  batch_size: 4\n  workers: 1\n"
         "  augment: {crop: none, flip: true, hsl: false, size: 32}\n  eval: {resize: 32, size: 32}\n"
         "optim: {lr: 0.05, decay: weights_and_gammas}\n"
         "train:\n  epochs: 3\n  seed: 1\n  threads: 1\n  precision: fp32\n  log_every: 1\n"
         "  checkpoint_every: 10min\n  keep_checkpoints: 2\n"
         "output: {dir: " + output + "}\n";
}

std::vector<json> records_of_kind(const std::string& run_folder, const std::string& kind) {
  std::vector<json> records;
  std::istringstream lines(read_file(run_folder + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    const json record = json::parse(line);
    if (record.at("kind") == kind) records.push_back(record);
  }
  return records;
}

TEST(Workflow, ListsDryRunTrainStopResumeEvaluate) {
  if (!data::image_files_supported()) GTEST_SKIP() << "this build has no OpenCV to write images";
  const std::string folder = fresh_folder("workflow");
  const std::string root = folder + "/imagenet";
  make_imagenet_layout(root);

  // 1. The lists: training classes from the folders, the validation labels through that map.
  RunResult run = run_tool("crunet-make-list", {"--root", root + "/train", "--output",
                                                root + "/train.lst"});
  ASSERT_EQ(run.status, 0) << run.output;
  run = run_tool("crunet-make-list", {"--root", root + "/val", "--labels", root + "/val_labels.txt",
                                      "--class-map", root + "/train.classes", "--output",
                                      root + "/val.lst"});
  ASSERT_EQ(run.status, 0) << run.output;

  // 2. The dry run: everything checked, nothing written.
  const std::string run_folder = folder + "/runs/tiny";
  const std::string config = folder + "/tiny.yaml";
  write_file(config, workflow_config(root, run_folder));
  run = run_tool("crunet-train", {"--config", config, "--dry-run"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("144 images"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("memory per process"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(run_folder));

  // 3. Train; the scheduler's SIGTERM arrives in the first epoch.
  const int pid = start_tool("crunet-train", {"--config", config, "--resume", "auto"},
                             folder + "/first.log");
  ASSERT_TRUE(wait_for_text(run_folder + "/metrics.jsonl", "\"kind\":\"step\"", 60))
      << read_file(folder + "/first.log");
  kill(pid, SIGTERM);
  ASSERT_EQ(wait_for_exit(pid), 0) << read_file(folder + "/first.log");
  const std::string first_log = read_file(folder + "/first.log");
  ASSERT_NE(first_log.find("stopped by a signal"), std::string::npos) << first_log;
  EXPECT_NE(first_log.find("--resume auto: no checkpoint yet"), std::string::npos) << first_log;
  EXPECT_FALSE(fs::exists(run_folder + "/model.safetensors"));

  // 4. The requeued job: the same command line continues from the checkpoint.
  run = run_tool("crunet-train", {"--config", config, "--resume", "auto"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("resumed from"), std::string::npos) << run.output;

  // Watching: the log has the ETA, curves.svg and the best checkpoint are there, every update
  // and epoch is recorded exactly once (36 updates an epoch, log_every 1).
  EXPECT_NE(read_file(run_folder + "/train.log").find("| ETA epoch "), std::string::npos);
  EXPECT_TRUE(fs::exists(run_folder + "/curves.svg"));
  EXPECT_TRUE(fs::exists(run_folder + "/checkpoints/best.safetensors"));
  std::vector<std::int64_t> steps;
  for (const json& record : records_of_kind(run_folder, "step")) {
    steps.push_back(record.at("global_step").get<std::int64_t>());
  }
  std::vector<std::int64_t> expected_steps(3 * 36);
  for (std::size_t i = 0; i < expected_steps.size(); ++i) expected_steps[i] = static_cast<std::int64_t>(i) + 1;
  EXPECT_EQ(steps, expected_steps);
  const std::vector<json> epochs = records_of_kind(run_folder, "epoch");
  ASSERT_EQ(epochs.size(), 3u);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(epochs[e].at("epoch").get<int>(), e + 1);

  // 5. Evaluate the final weights: crunet-eval's single crop is the trainer's validation.
  run = run_tool("crunet-eval", {"--config", config, "--weights", run_folder + "/model.safetensors",
                                 "--json", folder + "/eval.json"});
  ASSERT_EQ(run.status, 0) << run.output;
  const json eval = json::parse(read_file(folder + "/eval.json"));
  EXPECT_EQ(eval.at("samples").get<int>(), kValImages);
  EXPECT_NEAR(eval.at("top1").get<double>(), epochs.back().at("val_top1").get<double>(), 1e-9);
  EXPECT_GT(eval.at("top1").get<double>(), 0.5) << "3 classes of distinct brightness";
  run = run_tool("crunet-eval", {"--config", config, "--weights", run_folder + "/model.safetensors",
                                 "--ten-crop", "--json", folder + "/eval10.json"});
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(json::parse(read_file(folder + "/eval10.json")).at("samples").get<int>(), kValImages);
}

}  // namespace
}  // namespace crunet::e2e
