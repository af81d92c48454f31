#include "e2e_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "crunet/crunet.h"
#include "support/temp_dir.h"

namespace crunet::e2e {

RunResult run_tool(const std::string& tool, const std::vector<std::string>& arguments) {
  std::string command = std::string(CRUNET_TOOLS_DIR) + "/" + tool;
  for (const std::string& argument : arguments) command += " '" + argument + "'";
  command += " 2>&1";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t read;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), read);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int start_tool(const std::string& tool, const std::vector<std::string>& arguments,
               const std::string& log) {
  const std::string program = std::string(CRUNET_TOOLS_DIR) + "/" + tool;
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const std::string& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = fopen(log.c_str(), "w");
    if (out != nullptr) {
      dup2(fileno(out), 1);
      dup2(fileno(out), 2);
    }
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int wait_for_exit(int pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool wait_for_text(const std::string& path, const std::string& text, double seconds) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (read_file(path).find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::string fresh_folder(const std::string& name) {
  // Kept until the test process ends, then removed; a forked child leaves by exec or _exit and
  // removes nothing.
  static std::vector<std::unique_ptr<testing::TempDir>> folders;
  folders.push_back(std::make_unique<testing::TempDir>("e2e_" + name));
  return folders.back()->path();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string tiny_fashion_config(const std::string& output_dir, int epochs) {
  return R"(model:
  name: tiny_fashion
  input: {channels: 1, size: 28}
  classes: 10
  stem: {type: small, width: 8, stride: 2}
  stages:
    - {unit: res, units: 1, width: 16, bottleneck: 8, groups: 2, stride: 1}
    - {unit: cru, units: 2, width: 32, bottleneck: 16, share: 2, stride: 2}
data:
  format: idx
  root: /usr/share/datasets/fashion-mnist
  train_limit: 4000
  val_limit: 500
  batch_size: 50
  eval_batch_size: 100
  workers: 1
  normalize: {mean: [72.94], scale: [0.01133]}
  augment: {crop: pad_random, pad: 2, flip: true, hsl: false, size: 28}
  eval: {resize: 0, size: 0}
optim: {lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.0001}
schedule: {type: cosine}
train:
  epochs: )" + std::to_string(epochs) + R"(
  seed: 3
  threads: 2
  log_every: 5
output:
  dir: )" + output_dir + "\n";
}

EvalFixture make_eval_fixture(const std::string& folder, int images, bool broken) {
  for (int i = 0; i < images; ++i) {
    const int label = i % 3;
    const std::string dir = folder + "/images/val/class" + std::to_string(label);
    std::filesystem::create_directories(dir);
    const std::int64_t height = i % 2 ? 40 : 36, width = i % 2 ? 48 : 44;
    data::Image image{height, width, 3, std::vector<std::uint8_t>(static_cast<std::size_t>(height * width * 3))};
    Generator noise(static_cast<std::uint64_t>(i + 11));
    for (auto& p : image.pixels) p = static_cast<std::uint8_t>(50 + 60 * label + noise.below(60));
    data::write_image(dir + "/" + std::to_string(i) + ".png", image);
  }
  if (broken) write_file(folder + "/images/val/class1/broken.png", "not an image at all");
  EvalFixture fixture{folder + "/config.yaml", folder + "/model.safetensors"};
  write_file(fixture.config, R"(model:
  name: tiny_rgb
  input: {channels: 3, size: 32}
  classes: 3
  stem: {type: small, width: 8, stride: 1}
  stages:
    - {unit: res, units: 1, width: 16, bottleneck: 8, groups: 2, stride: 2}
    - {unit: cru, units: 2, width: 32, bottleneck: 16, share: 2, stride: 2}
data:
  format: image_folder
  root: )" + folder + R"(/images
  batch_size: 8
  workers: 2
  eval: {resize: 36, size: 32}
train: {threads: 1, precision: fp32}
output: {dir: )" + folder + R"(/run}
)");
  manual_seed(5);
  const auto model = models::build(train::load_train_config(fixture.config).model);
  save_weights(*model, fixture.weights);
  return fixture;
}

std::vector<std::string> epoch_records(const std::string& run_folder) {
  std::vector<std::string> records;
  std::istringstream lines(read_file(run_folder + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("\"kind\":\"epoch\"") != std::string::npos) records.push_back(line);
  }
  return records;
}

}  // namespace crunet::e2e
