// train.precision and crunet-bench --precision: good values, mistakes named by file, line and key,
// tf32 refused on the CPU, bf16 on the CPU accepted exactly where the CPU has avx512_bf16 / AMX
// (and refused, naming the feature, with exit status 2 by both programs where it has not: forced
// here with ONEDNN_MAX_CPU_ISA, which caps the instruction set oneDNN reports), and `auto`.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "crunet/ops/cpu_features.h"
#include "support/temp_dir.h"

namespace crunet {
namespace {

const char* kConfig = R"(model: crunet56
data:
  format: idx
  root: /usr/share/datasets/fashion-mnist
train:
  epochs: 1
  device: DEVICE
  precision: PRECISION
)";

std::string write_config(const std::string& device, const std::string& precision) {
  std::string text = kConfig;
  text.replace(text.find("DEVICE"), 6, device);
  text.replace(text.find("PRECISION"), 9, precision);
  static const testing::TempDir folder("precision_test");  // removed when the process ends
  const std::string path = folder / "config.yaml";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& device, const std::string& precision) {
  try {
    train::load_train_config(write_config(device, precision));
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

struct ProgramRun {
  int status = -1;
  std::string output;
};

// Runs a program (stdout and stderr together) and returns its exit status.
ProgramRun run(const std::string& command) {
  ProgramRun result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

TEST(PrecisionConfig, DefaultsToFp32AndAcceptsEachModeOnAGpu) {
  const train::TrainConfig fp32 = train::load_train_config(write_config("cpu", "fp32"));
  EXPECT_EQ(fp32.loop.precision, train::Precision::kFp32);
  EXPECT_EQ(train::load_train_config(write_config("cuda", "tf32")).loop.precision,
            train::Precision::kTf32);
  EXPECT_EQ(train::load_train_config(write_config("cuda:1", "bf16")).loop.precision,
            train::Precision::kBf16);
  // Absent: fp32.
  const train::TrainConfig absent =
      train::load_train_config(write_config("cpu", "fp32"), {"train.precision=fp32"});
  EXPECT_EQ(absent.loop.precision, train::Precision::kFp32);
  EXPECT_EQ(train::LoopOptions().precision, train::Precision::kFp32);
}

TEST(PrecisionConfig, UnknownModeNamesFileLineKeyAndTheClosest) {
  const std::string m = error_of("cuda", "bf61");
  EXPECT_NE(m.find("config.yaml:8: train.precision: unknown precision 'bf61' (known: fp32, tf32, "
                   "bf16, auto); did you mean 'bf16'?"),
            std::string::npos)
      << m;
}

TEST(PrecisionConfig, Tf32NeedsAGpu) {
  const std::string m = error_of("cpu", "tf32");
  EXPECT_NE(m.find("config.yaml:8: train.precision: tf32 needs a CUDA device, but the device is cpu"),
            std::string::npos)
      << m;
}

TEST(PrecisionConfig, Bf16OnTheCpuFollowsTheCpusFeatures) {
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  const std::string m = error_of("cpu", "bf16");
  if (support.bf16) {
    EXPECT_EQ(m, "") << "this CPU (" << support.isa << ") has bf16, yet the config was refused";
    EXPECT_EQ(train::load_train_config(write_config("cpu", "bf16")).loop.precision,
              train::Precision::kBf16);
  } else {
    EXPECT_NE(m.find("config.yaml:8: train.precision: bf16 on the CPU needs the avx512_bf16 or "
                     "amx_bf16 CPU feature"),
              std::string::npos)
        << m;
  }
}

TEST(PrecisionConfig, AutoIsBf16OnACpuWithAmxAndFp32ElsewhereAndSaysWhy) {
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  const train::TrainConfig cpu = train::load_train_config(write_config("cpu", "auto"));
  EXPECT_EQ(cpu.loop.precision, support.amx ? train::Precision::kBf16 : train::Precision::kFp32);
  EXPECT_NE(cpu.loop.precision_choice.find(support.isa), std::string::npos)
      << cpu.loop.precision_choice;
  const train::TrainConfig gpu = train::load_train_config(write_config("cuda", "auto"));
  EXPECT_EQ(gpu.loop.precision, train::Precision::kFp32);
  EXPECT_FALSE(gpu.loop.precision_choice.empty());
  // A config without `auto` records no choice.
  EXPECT_EQ(train::load_train_config(write_config("cpu", "fp32")).loop.precision_choice, "");
}

TEST(PrecisionConfig, Bf16AndSyncBnAreRefusedTogether) {
  try {
    train::load_train_config(write_config("cuda", "bf16"), {"train.sync_bn=true"});
    FAIL() << "bf16 with sync_bn was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("train.precision: bf16 does not combine with train.sync_bn"),
              std::string::npos)
        << e.what();
  }
}

TEST(PrecisionConfig, IsAKeyOfTheParser) {
  const std::vector<std::string> keys = train::config_keys();
  EXPECT_NE(std::find(keys.begin(), keys.end(), "train.precision"), keys.end());
}

TEST(PrecisionConfig, ParseAndNames) {
  for (auto p : {train::Precision::kFp32, train::Precision::kTf32, train::Precision::kBf16}) {
    EXPECT_EQ(train::parse_precision(train::precision_name(p)), p);
  }
  EXPECT_THROW(train::parse_precision("fp16"), ValueError);
  EXPECT_EQ(train::precision_unsupported_reason(train::Precision::kFp32, Device::cpu()), "");
  EXPECT_EQ(train::precision_unsupported_reason(train::Precision::kBf16, Device::cuda(0)), "");
}

TEST(PrecisionConfig, ScopeSetsTheThreadsModes) {
  {
    train::PrecisionScope scope(train::Precision::kBf16);
    EXPECT_EQ(nn::autocast_dtype(), DType::BFloat16);
    EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kFp32);
  }
  {
    train::PrecisionScope scope(train::Precision::kTf32);
    EXPECT_EQ(nn::autocast_dtype(), DType::Float32);
    EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kTf32);
  }
  EXPECT_EQ(nn::autocast_dtype(), DType::Float32);
  EXPECT_EQ(ops::cuda_math_mode(), ops::MathMode::kFp32);
}

// Without avx512_bf16 / AMX (here: oneDNN capped at plain AVX-512, or a CPU that lacks them).
const char* kWithoutBf16 = "ONEDNN_MAX_CPU_ISA=AVX512_CORE ";

TEST(PrecisionPrograms, CrunetTrainRefusesBf16OnACpuWithoutTheFeatureWithStatus2) {
  const std::string config = write_config("cpu", "fp32");
  const std::string train = std::string(CRUNET_TOOLS_DIR) + "/crunet-train --config " + config;
  ProgramRun r = run(kWithoutBf16 + train + " --set train.precision=bf16 --dry-run");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("train.precision: bf16 on the CPU needs the avx512_bf16 or amx_bf16 "
                          "CPU feature, which this machine lacks"),
            std::string::npos)
      << r.output;
  r = run(train + " --set train.precision=tf32 --dry-run");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("train.precision: tf32 needs a CUDA device"), std::string::npos)
      << r.output;
}

TEST(PrecisionPrograms, CrunetBenchRefusesWhatTheCpuCannotDoWithStatus2) {
  const std::string bench = std::string(CRUNET_TOOLS_DIR) + "/crunet-bench --config resnet50";
  ProgramRun r = run(kWithoutBf16 + bench + " --device cpu --precision bf16");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--precision bf16: bf16 on the CPU needs the avx512_bf16 or amx_bf16"),
            std::string::npos)
      << r.output;
  r = run(bench + " --precision tf32");  // the default device is the CPU
  EXPECT_EQ(r.status, 2) << r.output;
  r = run(bench + " --device cpu --precision half");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--precision: unknown precision 'half' (known: fp32, tf32, bf16)"),
            std::string::npos)
      << r.output;
}

TEST(PrecisionPrograms, CrunetBenchRunsBf16OnACpuWithTheFeature) {
  const ops::CpuBf16Support support = ops::cpu_bf16_support();
  if (!support.bf16) GTEST_SKIP() << "this CPU has no avx512_bf16 / amx_bf16: " << support.missing;
  const ProgramRun r = run(std::string(CRUNET_TOOLS_DIR) +
                           "/crunet-bench --config crunet56 --device cpu --precision bf16 "
                           "--input-size 32 --batch 2 --steps 1 --warmup 0 --json");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"precision\":\"bf16\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace crunet
