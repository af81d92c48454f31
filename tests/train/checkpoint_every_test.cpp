// train.checkpoint_every: a number of updates or a wall time with its unit.
#include <fstream>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/temp_dir.h"

namespace crunet {
namespace {

train::LoopOptions loop_with(const std::string& every) {
  static const testing::TempDir folder("checkpoint_every_test");  // removed when the process ends
  const std::string path = folder / "config.yaml";
  std::ofstream(path) << "model: crunet56\n"
                         "data: {format: idx, root: /usr/share/datasets/fashion-mnist}\n"
                         "train:\n  checkpoint_every: " + every + "\n";
  return train::load_train_config(path).loop;
}

std::string error_of(const std::string& every) {
  try {
    loop_with(every);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(CheckpointEvery, AnIntegerCountsUpdates) {
  const train::LoopOptions loop = loop_with("500");
  EXPECT_EQ(loop.checkpoint_every, 500);
  EXPECT_EQ(loop.checkpoint_every_seconds, 0);
  EXPECT_EQ(loop_with("0").checkpoint_every, 0);
}

TEST(CheckpointEvery, AWallTimeTakesItsUnit) {
  EXPECT_EQ(loop_with("30min").checkpoint_every_seconds, 1800);
  EXPECT_EQ(loop_with("30m").checkpoint_every_seconds, 1800);
  EXPECT_EQ(loop_with("2h").checkpoint_every_seconds, 7200);
  EXPECT_EQ(loop_with("90s").checkpoint_every_seconds, 90);
  EXPECT_EQ(loop_with("\"1.5 h\"").checkpoint_every_seconds, 5400);
  EXPECT_EQ(loop_with("10min").checkpoint_every, 0) << "time-based, not also update-based";
}

TEST(CheckpointEvery, MistakesNameTheKeyAndTheForms) {
  std::string m = error_of("30 parsecs");
  EXPECT_NE(m.find("train.checkpoint_every"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown unit 'parsecs'"), std::string::npos) << m;
  m = error_of("-5");
  EXPECT_NE(m.find("expected a number of updates (500) or a wall time"), std::string::npos) << m;
  m = error_of("2.5");
  EXPECT_NE(m.find("whole number"), std::string::npos) << m;
  m = error_of("often");
  EXPECT_NE(m.find("not 'often'"), std::string::npos) << m;
  m = error_of("[1, 2]");
  EXPECT_NE(m.find("train.checkpoint_every"), std::string::npos) << m;
  EXPECT_NE(error_of("0min").find("must be positive"), std::string::npos);
  // A whole number beyond int64_t: its conversion was undefined (no checkpoint ever, on x86).
  m = error_of("1e30");
  EXPECT_NE(m.find("train.checkpoint_every: a number of updates must be below 9.2e18"),
            std::string::npos)
      << m;
}

}  // namespace
}  // namespace crunet
