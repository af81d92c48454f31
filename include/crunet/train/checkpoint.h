#pragma once
// Checkpoints: one safetensors file holding the model's weights and BN statistics ("model.<name>"),
// the optimiser's momentum buffers ("optim.momentum.<name>"), and in the metadata the trainer state
// (JSON), the resolved config (YAML) and a CRC-32 of the tensor bytes. Written atomically
// (temporary file, fsync, rename), so that no crash leaves a broken newest checkpoint.
#include <functional>
#include <string>
#include <vector>

#include "crunet/nn/module.h"
#include "crunet/optim/sgd.h"
#include "crunet/train/state.h"

namespace crunet::train {

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::SGD& optimizer,
                     const TrainerState& state, const std::string& config_yaml);

// Restores model, optimiser and state; throws UserError naming the file for a file that is
// corrupt (checksum), truncated, or does not fit the model.
TrainerState load_checkpoint(const std::string& path, nn::Module& model, optim::SGD& optimizer);

// Checks a checkpoint file without loading it into anything: its format and its checksum.
void verify_checkpoint(const std::string& path);

// The checkpoints of a folder, newest (highest step) first.
std::vector<std::string> list_checkpoints(const std::string& folder);
// The newest checkpoint that verifies, warning through `warn` about each newer one that does not;
// "" when there is none.
std::string latest_valid_checkpoint(const std::string& folder,
                                    const std::function<void(const std::string&)>& warn);
// Moves the checkpoints of `folder` written after update `global_step` (those of a run that was
// resumed from an earlier point, or started over) into a new subfolder "superseded-after-<step>"
// ("-2", "-3", ... appended when that name is taken),
// so that neither pruning nor --resume auto takes them for this run's newest; returns their new
// paths. Nothing is deleted: they stay there for the user.
std::vector<std::string> set_aside_checkpoints_after(const std::string& folder,
                                                     std::int64_t global_step);
// "checkpoint-000001234.safetensors" in `folder`.
std::string checkpoint_path(const std::string& folder, std::int64_t global_step);

// "best.safetensors" in `folder`: the checkpoint of the best validation top-1 so far, kept beside
// the newest train.keep_checkpoints (list_checkpoints does not list it, so it is never pruned).
std::string best_checkpoint_path(const std::string& folder);
// Makes `best` the same file as `checkpoint` (a hard link, or a copy where links are refused),
// replacing it atomically.
void keep_as_best(const std::string& checkpoint, const std::string& best);

// Reads the weights of a model from a weights file or a checkpoint (its "model." tensors);
// tensors whose name starts with one of `keep_prefixes` keep the model's values (load_weights).
void load_model_weights(const std::string& path, nn::Module& model,
                        const std::vector<std::string>& keep_prefixes = {});

}  // namespace crunet::train
