#pragma once
// What a training run has done so far: enough to resume it exactly, and its history.
#include <cstdint>
#include <string>
#include <vector>

namespace crunet::train {

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based, as printed
  double train_loss = 0, train_top1 = 0;
  double val_loss = 0, val_top1 = 0, val_top5 = 0;  // accuracies in [0, 1]; -1 when not evaluated
  double lr = 0;
  double images_per_s = 0;
  double seconds = 0;  // wall time of the epoch's training
};

struct TrainerState {
  std::int64_t epoch = 0;          // the epoch in progress (0-based)
  std::int64_t step_in_epoch = 0;  // updates done in it
  std::int64_t global_step = 0;    // updates done in all
  // Running sums of the epoch in progress, so that a resumed epoch reports the whole epoch.
  double epoch_loss_sum = 0;
  std::int64_t epoch_correct = 0;
  std::int64_t epoch_seen = 0;
  double epoch_seconds = 0;
  // The layout that wrote the checkpoint: a mid-epoch resume needs the same (trainer.cpp).
  std::int64_t world_size = 1;
  std::int64_t batch_size = 0;     // per process; 0: not recorded (older checkpoints)
  std::int64_t accumulate = 1;
  // Updates an epoch has in that layout (0: not recorded): a checkpoint with all of them done
  // (written during validation, or at the epoch's last update) continues in any layout.
  std::int64_t epoch_updates = 0;
  // The best validation top-1 so far and its epoch (1-based); -1 and 0 before any validation.
  double best_top1 = -1;
  std::int64_t best_epoch = 0;
  std::string generator_state;     // crunet::default_generator()
  std::string schedule_state;
  std::vector<EpochRecord> history;
};

}  // namespace crunet::train
