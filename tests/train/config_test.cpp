// Training configs: every mistake is a UserError naming file, line and key, before any work.
#include <fstream>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/temp_dir.h"

namespace crunet {
namespace {

const char* kConfig = R"(model: crunet56
data:
  format: idx
  root: /usr/share/datasets/fashion-mnist
  batch_size: 16
optim:
  lr: 0.1
train:
  epochs: 2
)";

std::string write_config(const std::string& text, const std::string& name = "config.yaml") {
  static const testing::TempDir folder("config_test");  // removed when the process ends
  const std::string path = folder / name;
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    train::load_train_config(write_config(text), overrides);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(TrainConfig, LoadsAndResolvesTheModel) {
  const train::TrainConfig config = train::load_train_config(write_config(kConfig));
  EXPECT_EQ(config.model.name, "crunet56");
  EXPECT_EQ(config.data.batch_size, 16);
  EXPECT_EQ(config.optimizer.lr, 0.1);
  EXPECT_EQ(config.schedule.base_lr, 0.1);
  EXPECT_EQ(config.loop.epochs, 2);
  EXPECT_NE(config.output_dir.find("runs/config"), std::string::npos);
}

TEST(TrainConfig, UnknownKeyNamesTheClosest) {
  const std::string m = error_of(replaced(kConfig, "  epochs: 2", "  epoks: 2"));
  EXPECT_NE(m.find("config.yaml:9: train.epoks: unknown key 'epoks'; did you mean 'epochs'?"),
            std::string::npos) << m;
  EXPECT_NE(error_of(std::string(kConfig) + "optimiser: {}\n").find("did you mean 'optim'?"),
            std::string::npos);
}

TEST(TrainConfig, OutOfRangeAndWrongTypes) {
  std::string m = error_of(replaced(kConfig, "lr: 0.1", "lr: -0.1"));
  EXPECT_NE(m.find("config.yaml:7: optim.lr: must be positive"), std::string::npos) << m;
  m = error_of(replaced(kConfig, "batch_size: 16", "batch_size: 0"));
  EXPECT_NE(m.find("config.yaml:5: data.batch_size"), std::string::npos) << m;
  m = error_of(replaced(kConfig, "epochs: 2", "epochs: two"));
  EXPECT_NE(m.find("config.yaml:9: train.epochs: must be an integer"), std::string::npos) << m;
  m = error_of(std::string(kConfig) + "schedule: {type: cosin}\n");
  EXPECT_NE(m.find("did you mean 'cosine'?"), std::string::npos) << m;
  m = error_of(replaced(kConfig, "model: crunet56", "model: crunet57"));
  EXPECT_NE(m.find("config.yaml:1: model"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'crunet56'"), std::string::npos) << m;
}

TEST(TrainConfig, WeightDecayScope) {
  EXPECT_EQ(train::load_train_config(write_config(kConfig)).optimizer.decay,
            optim::WeightDecayScope::All);
  const train::TrainConfig mxnet = train::load_train_config(
      write_config(replaced(kConfig, "lr: 0.1", "lr: 0.1\n  decay: weights_and_gammas")));
  EXPECT_EQ(mxnet.optimizer.decay, optim::WeightDecayScope::WeightsAndGammas);
  std::string m = error_of(replaced(kConfig, "lr: 0.1", "lr: 0.1\n  decay: weight"));
  EXPECT_NE(m.find("config.yaml:8: optim.decay: unknown scope 'weight'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'weights'?"), std::string::npos) << m;
  m = error_of(replaced(kConfig, "lr: 0.1", "lr: 0.1\n  decay_norm_and_bias: false"));
  EXPECT_NE(m.find("config.yaml:8: optim.decay_norm_and_bias: was replaced by decay: all | "
                   "weights_and_gammas | weights"),
            std::string::npos)
      << m;
}

TEST(TrainConfig, OverridesReachIntoAZooModel) {
  // `model: crunet56` with --set model.classes: the zoo spec, inlined, with the new classifier.
  const train::TrainConfig config =
      train::load_train_config(write_config(kConfig), {"model.classes=102"});
  const models::ModelSpec zoo = models::load_model_spec("crunet56");
  EXPECT_EQ(config.model.name, "crunet56");
  EXPECT_EQ(config.model.classes, 102);
  EXPECT_EQ(config.model.stages.size(), zoo.stages.size());
  EXPECT_EQ(config.model.input_size, zoo.input_size);
  const std::string m = error_of(kConfig, {"data.root.path=/x"});
  EXPECT_NE(m.find("'root' is a value, not a section"), std::string::npos) << m;
}

TEST(TrainConfig, OverridesApplyAndAreChecked) {
  const train::TrainConfig config =
      train::load_train_config(write_config(kConfig), {"optim.lr=0.05", "train.seed=7"});
  EXPECT_EQ(config.optimizer.lr, 0.05);
  EXPECT_EQ(config.loop.seed, 7u);
  EXPECT_NE(config.resolved_yaml.find("0.05"), std::string::npos);
  EXPECT_NE(error_of(kConfig, {"optm.lr=0.05"}).find("did you mean 'optim'?"), std::string::npos);
  EXPECT_NE(error_of(kConfig, {"optim.lr"}).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(error_of(kConfig, {"optim.lr=-1"}).find("optim.lr: must be positive"), std::string::npos);
}

TEST(TrainConfig, AMistakeInASetValueNamesTheSetNotALineOfTheFile) {
  // It named line 1 of the file (the line of the --set text), which holds something else.
  std::string m = error_of(kConfig, {"train.epochs=abc"});
  EXPECT_NE(m.find("--set train.epochs=abc: train.epochs: must be an integer, got 'abc'"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("config.yaml:1:"), std::string::npos) << m;
  // Beneath a section set as a whole, and among the file's own mistakes, in their places.
  m = error_of(replaced(kConfig, "lr: 0.1", "lr: -1"), {"data.augment={size: 0}"});
  EXPECT_NE(m.find("--set data.augment={size: 0}: data.augment.size: must be an integer in"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("config.yaml:7: optim.lr: must be positive"), std::string::npos) << m;
  // The last --set of a key is the one that counts.
  m = error_of(kConfig, {"optim.lr=-1", "optim.lr=-2"});
  EXPECT_NE(m.find("--set optim.lr=-2: optim.lr"), std::string::npos) << m;
}

TEST(TrainConfig, InlineModelKeepsTheDocumentsLines) {
  const std::string text = std::string(kConfig).replace(0, 16, R"(model:
  name: tiny
  classes: 10
  stages:
    - {unit: res, units: 1, width: 8, botleneck: 4}
)");
  const std::string m = error_of(text);
  EXPECT_NE(m.find("config.yaml:5: model.stages[0].botleneck"), std::string::npos) << m;
}

TEST(TrainConfig, EveryMistakeIsReportedAtOnce) {
  const std::string text = R"(model:
  name: tiny
  classes: 0
  stages:
    - {unit: res, units: 1, width: 8, botleneck: 4}
data:
  format: idx
  root: /usr/share/datasets/fashion-mnist
  batch_size: 0
  batch_size: 8
optim:
  lr: -0.1
  momentum: lots
schedule: {type: cosin}
train:
  epoks: 2
  device: tpu
)";
  const std::string m = error_of(text);
  // One line per problem, each with file:line: key, in the order of the lines.
  EXPECT_NE(m.find("config.yaml: 9 problems:"), std::string::npos) << m;
  for (const char* line : {
           "config.yaml:3: model.classes: must be a positive integer",
           "config.yaml:5: model.stages[0].botleneck: unknown key 'botleneck'; did you mean "
           "'bottleneck'?",
           "config.yaml:5: model.stages[0].bottleneck: missing required key 'bottleneck'",
           "config.yaml:10: data.batch_size: the key 'batch_size' is given more than once",
           "config.yaml:12: optim.lr: must be positive",
           "config.yaml:13: optim.momentum: must be a number, got 'lots'",
           "config.yaml:14: schedule.type: unknown schedule 'cosin'",
           "config.yaml:16: train.epoks: unknown key 'epoks'; did you mean 'epochs'?",
           "config.yaml:17: train.device: unknown device 'tpu'"}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
  EXPECT_LT(m.find("optim.lr"), m.find("optim.momentum")) << m;
  EXPECT_LT(m.find("schedule.type"), m.find("train.epoks")) << m;
  // A consequence of a problem is not a second problem: data.batch_size 0 is reported once.
  EXPECT_EQ(m.find("batch_size: must be"), std::string::npos) << m;
}

TEST(TrainConfig, OneMistakeIsOneLine) {
  const std::string m = error_of(replaced(kConfig, "lr: 0.1", "lr: .inf"));
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_NE(m.find("config.yaml:7: optim.lr: must be a finite number"), std::string::npos) << m;
}

TEST(TrainConfig, MalformedDocumentsAreUserErrors) {
  // Not a map, a key that is a list, a section that is a scalar: each a UserError, never a crash.
  for (const char* text : {"", "[1, 2]", "just text", "? [a, b]\n: 1\n", "model: crunet56\ndata: 3\n",
                           "model: {}\ndata: {root: [x]}\n", "model: [1]\ndata: {format: {a: 1}}\n",
                           "model: crunet56\ndata: {root: /x, normalize: {scale: 1e300}}\n",
                           "model: crunet56\ndata: {root: /x}\ntrain: {label_smoothing: 1e300}\n"}) {
    EXPECT_NE(error_of(text), "") << text;
  }
  // A model name longer than a path may be (the file-system calls must not throw).
  EXPECT_NE(error_of("model: " + std::string(5000, 'a') + "\ndata: {root: /x}\n").find("unknown model"),
            std::string::npos);
}

TEST(TrainConfig, NumbersBeyondWhatTheirTypeHoldsAreRangeErrors) {
  // Each went on silently: a float conversion out of range (undefined behaviour), an int that
  // wrapped, tens of thousands of OpenMP threads.
  for (const auto& [override_text, message] : std::vector<std::pair<std::string, std::string>>{
           {"optim.lr=1e300", "optim.lr: must be at most 1e30"},
           {"optim.weight_decay=1e300", "optim.weight_decay: must be at most 1e30"},
           {"schedule={patience: 4294967296}", "schedule.patience: must be at most 1000000"},
           {"train.threads=100000", "train.threads: must be at most 4096"}}) {
    const std::string m = error_of(kConfig, {override_text});
    EXPECT_NE(m.find(message), std::string::npos) << override_text << ": " << m;
  }
}

}  // namespace
}  // namespace crunet
