#include "crunet/train/checkpoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include "crunet/core/safetensors.h"
#include "crunet/nn/weights.h"

namespace crunet::train {
namespace {

namespace fs = std::filesystem;
const char* kModelPrefix = "model.";
const char* kOptimPrefix = "optim.";

std::string crc32_of(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (const auto& [name, tensor] : tensors) {
    const Tensor host = tensor.to(Device::cpu()).contiguous();
    crc = crc32(crc, reinterpret_cast<const Bytef*>(name.data()), static_cast<uInt>(name.size()));
    const auto* bytes = static_cast<const Bytef*>(host.data_ptr());
    std::size_t left = host.nbytes();
    while (left > 0) {  // crc32 takes a uInt length
      const uInt chunk = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
      crc = crc32(crc, bytes, chunk);
      bytes += chunk;
      left -= chunk;
    }
  }
  return std::to_string(crc);
}

// CRC-32 of what the tensor CRC leaves out: each tensor's dtype and shape, the trainer state and
// the config, so that a damaged header cannot pass for a good one.
std::string meta_crc32_of(const std::vector<std::pair<std::string, Tensor>>& tensors,
                          const std::string& trainer, const std::string& config) {
  std::string text;
  for (const auto& [name, tensor] : tensors) {
    text += name + ':' + dtype_name(tensor.dtype()) + ':' + shape_str(tensor.shape()) + '\n';
  }
  text += trainer + '\n' + config;
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* bytes = reinterpret_cast<const Bytef*>(text.data());
  for (std::size_t left = text.size(); left > 0;) {
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = crc32(crc, bytes, chunk);
    bytes += chunk;
    left -= chunk;
  }
  return std::to_string(crc);
}

nlohmann::json state_to_json(const TrainerState& s) {
  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& r : s.history) {
    history.push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_top1", r.train_top1},
                       {"val_loss", r.val_loss}, {"val_top1", r.val_top1}, {"val_top5", r.val_top5},
                       {"lr", r.lr}, {"images_per_s", r.images_per_s}, {"seconds", r.seconds}});
  }
  return {{"epoch", s.epoch},
          {"step_in_epoch", s.step_in_epoch},
          {"global_step", s.global_step},
          {"epoch_loss_sum", s.epoch_loss_sum},
          {"epoch_correct", s.epoch_correct},
          {"epoch_seen", s.epoch_seen},
          {"epoch_seconds", s.epoch_seconds},
          {"world_size", s.world_size},
          {"batch_size", s.batch_size},
          {"accumulate", s.accumulate},
          {"epoch_updates", s.epoch_updates},
          {"best_top1", s.best_top1},
          {"best_epoch", s.best_epoch},
          {"generator_state", s.generator_state},
          {"schedule_state", s.schedule_state},
          {"history", history}};
}

TrainerState state_from_json(const nlohmann::json& j) {
  TrainerState s;
  s.epoch = j.at("epoch").get<std::int64_t>();
  s.step_in_epoch = j.at("step_in_epoch").get<std::int64_t>();
  s.global_step = j.at("global_step").get<std::int64_t>();
  s.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
  s.epoch_correct = j.at("epoch_correct").get<std::int64_t>();
  s.epoch_seen = j.at("epoch_seen").get<std::int64_t>();
  s.epoch_seconds = j.at("epoch_seconds").get<double>();
  // Checkpoints written before these fields existed read as "layout unknown, no best yet".
  s.world_size = j.value("world_size", std::int64_t{1});
  s.batch_size = j.value("batch_size", std::int64_t{0});
  s.accumulate = j.value("accumulate", std::int64_t{1});
  s.epoch_updates = j.value("epoch_updates", std::int64_t{0});
  s.best_top1 = j.value("best_top1", -1.0);
  s.best_epoch = j.value("best_epoch", std::int64_t{0});
  s.generator_state = j.at("generator_state").get<std::string>();
  s.schedule_state = j.at("schedule_state").get<std::string>();
  for (const auto& r : j.at("history")) {
    EpochRecord e;
    e.epoch = r.at("epoch").get<std::int64_t>();
    e.train_loss = r.at("train_loss").get<double>();
    e.train_top1 = r.at("train_top1").get<double>();
    e.val_loss = r.at("val_loss").get<double>();
    e.val_top1 = r.at("val_top1").get<double>();
    e.val_top5 = r.at("val_top5").get<double>();
    e.lr = r.at("lr").get<double>();
    e.images_per_s = r.at("images_per_s").get<double>();
    e.seconds = r.at("seconds").get<double>();
    s.history.push_back(e);
  }
  return s;
}

bool is_checkpoint(const SafetensorsFile& file) {
  auto format = file.metadata.find("format");
  return format != file.metadata.end() && format->second == "crunet-checkpoint";
}

void check_checksum(const SafetensorsFile& file) {
  auto crc = file.metadata.find("crc32");
  if (crc == file.metadata.end() || crc->second != crc32_of(file.tensors)) {
    throw UserError(file.path + ": checksum mismatch: the checkpoint is corrupt");
  }
  // Checkpoints written before meta_crc32 existed have only the tensors' checksum.
  auto meta = file.metadata.find("meta_crc32");
  if (meta != file.metadata.end()) {
    auto text = [&](const char* key) {
      auto found = file.metadata.find(key);
      return found == file.metadata.end() ? std::string() : found->second;
    };
    if (meta->second != meta_crc32_of(file.tensors, text("trainer"), text("config"))) {
      throw UserError(file.path +
                      ": checksum mismatch in the header (names, shapes, trainer state or config): "
                      "the checkpoint is corrupt");
    }
  }
}

TrainerState parse_state(const SafetensorsFile& file) {
  auto trainer = file.metadata.find("trainer");
  if (trainer == file.metadata.end()) throw UserError(file.path + ": no trainer state");
  try {
    return state_from_json(nlohmann::json::parse(trainer->second));
  } catch (const std::exception& e) {
    throw UserError(file.path + ": unreadable trainer state: " + e.what());
  }
}

// Reads a checkpoint and checks its format, its checksums and its trainer state.
SafetensorsFile read_verified(const std::string& path) {
  SafetensorsFile file = load_safetensors(path);
  if (!is_checkpoint(file)) {
    throw UserError(path + ": not a crunet checkpoint (metadata format is missing or different)");
  }
  check_checksum(file);
  parse_state(file);
  return file;
}

// "checkpoint-000000123.safetensors.tmp.<pid>.<n>": what save_safetensors writes before the rename.
// Returns the writer's pid, or 0 for any other name.
pid_t temporary_writer(const fs::path& path) {
  const std::string name = path.filename().string();
  const std::size_t tmp = name.find(".safetensors.tmp.");
  if (name.rfind("checkpoint-", 0) != 0 || tmp == std::string::npos) return 0;
  const std::string rest = name.substr(tmp + std::string(".safetensors.tmp.").size());
  try {
    return static_cast<pid_t>(std::stol(rest.substr(0, rest.find('.'))));
  } catch (const std::exception&) {
    return 0;
  }
}

// Removes the partial files of writes that were killed (their process is gone): a SIGKILL during a
// checkpoint write leaves one behind, which no reader ever takes for a checkpoint.
void remove_abandoned_temporaries(const std::string& folder,
                                  const std::function<void(const std::string&)>& warn) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const pid_t writer = temporary_writer(entry.path());
    if (writer <= 0 || writer == ::getpid()) continue;
    if (::kill(writer, 0) == 0 || errno != ESRCH) continue;  // its writer may still be at work
    std::error_code ignored;
    if (fs::remove(entry.path(), ignored)) {
      warn("removed " + entry.path().string() + ", left by a checkpoint write that was killed");
    }
  }
}

std::vector<nn::NamedTensor> with_prefix_removed(const SafetensorsFile& file,
                                                 const std::string& prefix) {
  std::vector<nn::NamedTensor> out;
  for (const auto& [name, tensor] : file.tensors) {
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), tensor);
  }
  return out;
}

std::int64_t step_of(const fs::path& path) {
  const std::string stem = path.stem().string();  // checkpoint-000000123
  const std::string digits = stem.substr(std::string("checkpoint-").size());
  try {
    return std::stoll(digits);
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

std::string checkpoint_path(const std::string& folder, std::int64_t global_step) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%09lld.safetensors",
                static_cast<long long>(global_step));
  return (fs::path(folder) / name).string();
}

std::string best_checkpoint_path(const std::string& folder) {
  return (fs::path(folder) / "best.safetensors").string();
}

void keep_as_best(const std::string& checkpoint, const std::string& best) {
  const std::string temporary = best + ".tmp";
  std::error_code error;
  fs::remove(temporary, error);
  fs::create_hard_link(checkpoint, temporary, error);
  if (error) fs::copy_file(checkpoint, temporary, fs::copy_options::overwrite_existing);
  fs::rename(temporary, best);
}

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::SGD& optimizer,
                     const TrainerState& state, const std::string& config_yaml) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, tensor] : model.state_dict()) tensors.emplace_back(kModelPrefix + name, tensor);
  for (const auto& [name, tensor] : optimizer.state_dict()) {
    tensors.emplace_back(kOptimPrefix + name, tensor);
  }
  const std::string trainer = state_to_json(state).dump();
  const std::map<std::string, std::string> metadata{
      {"format", "crunet-checkpoint"},
      {"trainer", trainer},
      {"config", config_yaml},
      {"crc32", crc32_of(tensors)},
      {"meta_crc32", meta_crc32_of(tensors, trainer, config_yaml)}};
  const fs::path folder = fs::path(path).parent_path();
  try {
    fs::create_directories(folder);
    save_safetensors(path, tensors, metadata);
  } catch (const std::exception& e) {
    // save_safetensors writes a temporary file and renames it, so a failed write (disk full, no
    // permission, a folder that is a file) leaves every earlier checkpoint as it was.
    std::string kept;
    std::error_code error;
    if (fs::is_directory(folder, error)) {
      const std::vector<std::string> existing = list_checkpoints(folder.string());
      if (!existing.empty()) kept = existing.front();
    }
    throw RuntimeError("cannot write the checkpoint " + path + ": " + e.what() + "; " +
                       (kept.empty() ? std::string("no earlier checkpoint exists")
                                     : "the newest earlier checkpoint, " + kept + ", is kept"));
  }
}

void verify_checkpoint(const std::string& path) { read_verified(path); }

TrainerState load_checkpoint(const std::string& path, nn::Module& model, optim::SGD& optimizer) {
  const SafetensorsFile file = read_verified(path);
  const TrainerState state = parse_state(file);
  try {
    model.load_state_dict(with_prefix_removed(file, kModelPrefix));
    optimizer.load_state_dict(with_prefix_removed(file, kOptimPrefix));
  } catch (const ValueError& e) {
    throw UserError(path + ": the checkpoint does not fit this model: " + e.what());
  }
  return state;
}

std::vector<std::string> list_checkpoints(const std::string& folder) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const fs::path& p = entry.path();
    if (p.extension() == ".safetensors" && p.stem().string().rfind("checkpoint-", 0) == 0 &&
        step_of(p) >= 0) {
      found.emplace_back(step_of(p), p.string());
    }
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> paths;
  for (auto& entry : found) paths.push_back(entry.second);
  return paths;
}

std::vector<std::string> set_aside_checkpoints_after(const std::string& folder,
                                                     std::int64_t global_step) {
  std::vector<std::string> moved;
  // A folder of its own each time: a second resume from the same update must not rename its
  // checkpoints over the ones an earlier resume set aside under the same names.
  const std::string name = "superseded-after-" + std::to_string(global_step);
  fs::path aside = fs::path(folder) / name;
  for (int copy = 2; fs::exists(aside); ++copy) {
    aside = fs::path(folder) / (name + "-" + std::to_string(copy));
  }
  for (const std::string& path : list_checkpoints(folder)) {
    if (step_of(path) <= global_step) break;  // newest first
    fs::create_directories(aside);
    const fs::path target = aside / fs::path(path).filename();
    fs::rename(path, target);
    moved.push_back(target.string());
  }
  return moved;
}

std::string latest_valid_checkpoint(const std::string& folder,
                                    const std::function<void(const std::string&)>& warn) {
  remove_abandoned_temporaries(folder, warn);
  for (const std::string& path : list_checkpoints(folder)) {
    try {
      verify_checkpoint(path);
      return path;
    } catch (const Error& e) {
      warn(std::string(e.what()) + "; falling back to an older checkpoint");
    }
  }
  return "";
}

void load_model_weights(const std::string& path, nn::Module& model,
                        const std::vector<std::string>& keep_prefixes) {
  const SafetensorsFile file = load_safetensors(path);
  const bool checkpoint = is_checkpoint(file);
  if (checkpoint) check_checksum(file);
  load_weights(model, checkpoint ? with_prefix_removed(file, kModelPrefix) : file.tensors, path,
               keep_prefixes);
}

}  // namespace crunet::train
