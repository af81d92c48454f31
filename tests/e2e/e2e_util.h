#pragma once
// Helpers for tests that run the real programs (crunet-train, crunet-eval) on small configs.
#include <string>
#include <vector>

namespace crunet::e2e {

struct RunResult {
  int status = -1;     // exit status, or 128 + signal
  std::string output;  // stdout and stderr together
};

// Runs a program from the build's tools folder with arguments; waits for it.
RunResult run_tool(const std::string& tool, const std::vector<std::string>& arguments);

// Starts a program from the build's tools folder in the background, its stdout and stderr going
// to `log`; returns its pid.
int start_tool(const std::string& tool, const std::vector<std::string>& arguments,
               const std::string& log);
// Waits for the process to end; its exit status, or 128 + the signal that ended it.
int wait_for_exit(int pid);
// Waits until the file holds `text` (true) or `seconds` pass (false), reading it every 2 ms.
bool wait_for_text(const std::string& path, const std::string& text, double seconds);

// A fresh empty folder under the temp directory, private to this process and removed when it ends.
std::string fresh_folder(const std::string& name);
void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

// A training config on the first images of Debian's Fashion-MNIST with a tiny CRU-Net.
std::string tiny_fashion_config(const std::string& output_dir, int epochs);

// An evaluation set under `folder`: an image folder val/class0..class2 of `images` PNGs of two
// sizes (class c brighter with c), plus, when `broken` is set, one file val/class1/broken.png
// that is not an image; a config (a tiny RGB CRU-Net, 3 classes, eval resize 36 / crop 32,
// batch_size 8, workers 2, train.threads 1) at folder/config.yaml, and freshly initialised weights
// (seeded) at folder/model.safetensors.
struct EvalFixture {
  std::string config;
  std::string weights;
};
EvalFixture make_eval_fixture(const std::string& folder, int images, bool broken);

// The `kind: epoch` records of a run's metrics.jsonl, as JSON text lines.
std::vector<std::string> epoch_records(const std::string& run_folder);

}  // namespace crunet::e2e
