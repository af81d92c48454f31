#pragma once
// A training config: which model, which data, the optimiser, the schedule and the loop. Every key,
// its type, default and meaning is listed in docs/config.md. Loading checks every key; mistakes
// are crunet::UserError naming the file, the line and the key, before any work starts.
#include <string>
#include <vector>

#include "crunet/data/config.h"
#include "crunet/models/spec.h"
#include "crunet/optim/schedule.h"
#include "crunet/optim/sgd.h"
#include "crunet/train/precision.h"

namespace crunet::train {

struct LoopOptions {
  std::int64_t epochs = 10;
  std::int64_t accumulate = 1;       // micro-batches per update (global batch =
                                     // data.batch_size x accumulate x processes)
  std::uint64_t seed = 0;
  std::string device = "cpu";        // cpu, cuda, cuda:N
  Precision precision = Precision::kFp32;  // fp32, tf32, bf16 (crunet/train/precision.h)
  std::string precision_choice;      // `auto` in the config: what it chose and why; else empty
  std::int64_t threads = 0;          // OpenMP threads for the CPU backend; 0 = all cores
  float label_smoothing = 0.0f;
  std::int64_t log_every = 50;       // steps between metric lines
  std::int64_t eval_every = 1;       // epochs between validations
  // Checkpoints between epochs: every `checkpoint_every` updates, or every
  // `checkpoint_every_seconds` of wall time (the config's "30min", "2h", "90s"); both 0: only at
  // the end of each epoch.
  std::int64_t checkpoint_every = 0;
  double checkpoint_every_seconds = 0;
  std::int64_t keep_checkpoints = 3;
  bool sync_bn = false;              // data-parallel: BN statistics over the global batch
  double dist_timeout_s = 300;       // data-parallel: longest wait for the other processes
};

struct TrainConfig {
  std::string path;                  // the config file
  std::string resolved_yaml;         // the config after --set overrides, as run
  models::ModelSpec model;
  data::DataConfig data;
  optim::SGDOptions optimizer;
  optim::ScheduleOptions schedule;
  LoopOptions loop;
  std::string output_dir;            // default runs/<config file stem>
};

// Loads a config. `overrides` are "key.path=value" (YAML scalars or flow values); an unknown path
// is an error naming the closest key.
TrainConfig load_train_config(const std::string& path,
                              const std::vector<std::string>& overrides = {});

// The model takes the channels the images are decoded to (data.channels: 1 for IDX unless set),
// else a UserError naming both keys; it failed at the first forward pass, after the run folder
// was made, and a dry run passed it. Checked by the programs, not by load_train_config, which
// also reads configs for their other parts.
void check_model_channels(const TrainConfig& config);

// Every key a training config accepts, as dotted paths ("optim.lr", "data.augment.hsl.hue"), the
// sections and nested maps included ("optim", "data.augment"): the parser's own lists. `model`
// holds a zoo name, a file or a spec, whose keys docs/formats.md lists; they are not included.
std::vector<std::string> config_keys();

}  // namespace crunet::train
