// train.precision and crunet-bench --precision: good values, mistakes named by file, line and key,
// and tf32 / bf16 refused on the CPU with exit status 2 by both programs.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "crunet/crunet.h"

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
  const auto folder = std::filesystem::temp_directory_path() /
                      ("crunet_precision_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const std::string path = (folder / "config.yaml").string();
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
                   "bf16); did you mean 'bf16'?"),
            std::string::npos)
      << m;
}

TEST(PrecisionConfig, Tf32AndBf16NeedAGpu) {
  for (const char* precision : {"tf32", "bf16"}) {
    const std::string m = error_of("cpu", precision);
    EXPECT_NE(m.find("config.yaml:8: train.precision: " + std::string(precision) +
                     " needs a CUDA device, but the device is cpu"),
              std::string::npos)
        << m;
  }
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

TEST(PrecisionPrograms, CrunetTrainRefusesBf16OnTheCpuWithStatus2) {
  const std::string config = write_config("cpu", "fp32");
  const ProgramRun r = run(std::string(CRUNET_TOOLS_DIR) + "/crunet-train --config " + config +
                    " --set train.precision=bf16 --dry-run");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("train.precision: bf16 needs a CUDA device"), std::string::npos)
      << r.output;
}

TEST(PrecisionPrograms, CrunetBenchRefusesBf16OnTheCpuWithStatus2) {
  const std::string bench = std::string(CRUNET_TOOLS_DIR) + "/crunet-bench --config resnet50";
  ProgramRun r = run(bench + " --device cpu --precision bf16");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--precision bf16: bf16 needs a CUDA device, but the device is cpu"),
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

}  // namespace
}  // namespace crunet
