#pragma once
// The training loop: SGD over a model built from the config, validation, metrics (JSON lines),
// logs (console and run directory), training curves, checkpoints and exact resume.
#include <functional>
#include <memory>
#include <string>

#include "crunet/data/loader.h"
#include "crunet/models/network.h"
#include "crunet/optim/schedule.h"
#include "crunet/optim/sgd.h"
#include "crunet/train/config.h"
#include "crunet/train/state.h"

namespace spdlog {
class logger;
}

namespace crunet::train {

struct EvalResult {
  double loss = 0;
  double top1 = 0;  // accuracies in [0, 1]
  double top5 = 0;
  std::int64_t samples = 0;
  double images_per_s = 0;
};

// Runs the model in eval mode over a loader's whole epoch (every sample once).
EvalResult evaluate(models::Network& model, data::DataLoader& loader, const Device& device);

struct TrainerOptions {
  std::string resume;                     // "", "auto" (newest valid checkpoint) or a path
  std::function<bool()> stop_requested;   // polled after every update (SIGINT/SIGTERM)
  bool console = true;                    // log to the console as well as to the run's file
};

struct TrainResult {
  bool interrupted = false;
  std::string checkpoint;   // the last checkpoint written
  std::string weights;      // the final weights (model.safetensors) when training finished
  EpochRecord last;         // the last finished epoch
};

class Trainer {
 public:
  Trainer(TrainConfig config, TrainerOptions options);
  ~Trainer();
  TrainResult run();

  models::Network& model() { return *model_; }
  const TrainerState& state() const { return state_; }
  const TrainConfig& config() const { return config_; }

 private:
  void resume_from(const std::string& path);
  void write_checkpoint(TrainResult& result);
  void end_epoch(TrainResult& result, double lr);
  void append_metrics(const std::string& json_line);

  TrainConfig config_;
  TrainerOptions options_;
  Device device_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<models::Network> model_;
  std::unique_ptr<optim::SGD> optimizer_;
  std::unique_ptr<optim::LrSchedule> schedule_;
  std::unique_ptr<data::DataLoader> train_loader_;
  std::unique_ptr<data::DataLoader> val_loader_;
  TrainerState state_;
};

}  // namespace crunet::train
