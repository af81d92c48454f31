#pragma once
// The training loop: SGD over a model built from the config, validation, metrics (JSON lines),
// logs (console and run directory), training curves, checkpoints and exact resume.
//
// Data-parallel (docs/distributed.md): every process of the group runs the same loop on its shard
// of the data (data.batch_size is per process), starting from rank 0's weights; gradients are
// averaged in buckets during backward, so every process takes the same step. Validation is
// sharded too and its counts summed. Rank 0 alone writes the run folder.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crunet/data/loader.h"
#include "crunet/dist/process_group.h"
#include "crunet/dist/reducer.h"
#include "crunet/models/network.h"
#include "crunet/optim/schedule.h"
#include "crunet/optim/sgd.h"
#include "crunet/train/config.h"
#include "crunet/train/precision.h"
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
  double seconds = 0;
  bool interrupted = false;  // `stop` said so before the whole set was seen (no result)
};

// Runs the model in eval mode over a loader's whole epoch (every sample once). With a group of
// several processes, each runs its own shard (a loader made with its rank) and the losses, the
// correct counts and the sample counts are summed over the group before dividing, so every
// process returns the result over the whole set, each sample counted once. The forward passes
// run in `precision` (the trainer validates in its training precision). `stop`, when given, is
// polled before each batch: once it says so this process stops reading, and the result of every
// process says `interrupted` (the group agrees in the one collective at the end).
EvalResult evaluate(models::Network& model, data::DataLoader& loader, const Device& device,
                    dist::ProcessGroup* group = nullptr, Precision precision = Precision::kFp32,
                    const std::function<bool()>& stop = {});

struct TrainerOptions {
  std::string resume;                     // "", "auto" (newest valid checkpoint) or a path
  // Weights to start from instead of the random initialisation (fine-tuning; crunet-train
  // --init); a checkpoint that is resumed replaces them. Names starting with one of
  // `init_keep` keep their random initialisation (a new classifier: "fc.").
  std::string init_weights;
  std::vector<std::string> init_keep;
  // Polled after every update and every validation batch (SIGINT/SIGTERM): the run writes a
  // checkpoint and returns within one update or one validation batch, plus the write.
  std::function<bool()> stop_requested;
  // Check everything (config, data, lists, classes, model, memory) and write nothing: no run
  // folder, no log file; a CUDA device missing here is reported, not an error. run() refuses.
  bool dry_run = false;
  bool console = true;                    // log to the console as well as to the run's file
  // The data-parallel group; empty: dist::world() (a group of one without a launcher).
  std::shared_ptr<dist::ProcessGroup> group;
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
  const dist::ProcessGroup& group() const { return *group_; }

 private:
  void resume_from(const std::string& path);
  // A mid-epoch checkpoint continues exactly only with the layout that wrote it.
  void check_resume_layout(const std::string& path) const;
  // Records this run's process count, batch and updates per epoch in the state.
  void adopt_layout();
  // After a resume: metrics.jsonl loses the records written after the checkpoint (they will be
  // written again), so that no update or epoch appears twice.
  void truncate_metrics_to_state();
  void set_aside_later_checkpoints();
  void keep_resumed_checkpoint_as_best(const std::string& path);
  void write_checkpoint(TrainResult& result);
  // Validates (when due), records the epoch and checkpoints; false when a stop request came
  // during validation: the epoch stays open, its checkpoint validates again on resume.
  bool end_epoch(TrainResult& result, double lr);
  void append_metrics(const std::string& json_line);
  void report_dry_run() const;
  // The epoch's running sums over every process (a collective).
  void global_epoch_sums(double& loss_sum, std::int64_t& correct, std::int64_t& seen);
  struct Requests {
    bool stop = false;        // a process was asked to stop
    bool checkpoint = false;  // a process's train.checkpoint_every timer ran out
  };
  // What any process asks for, after an update (a collective when there are several).
  Requests poll_requests();
  // The estimated seconds left in this epoch and in the run, from the epoch's pace so far.
  std::pair<double, double> eta_seconds(std::int64_t steps_per_epoch) const;

  TrainConfig config_;
  TrainerOptions options_;
  std::shared_ptr<dist::ProcessGroup> group_;
  bool main_ = true;  // rank 0: writes the run folder
  Device device_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<models::Network> model_;
  std::unique_ptr<optim::SGD> optimizer_;
  std::unique_ptr<dist::GradientReducer> reducer_;
  std::unique_ptr<optim::LrSchedule> schedule_;
  std::unique_ptr<data::DataLoader> train_loader_;
  std::unique_ptr<data::DataLoader> val_loader_;
  TrainerState state_;
  std::chrono::steady_clock::time_point last_checkpoint_time_;
  double last_validation_seconds_ = 0;
};

}  // namespace crunet::train
