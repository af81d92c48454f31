#include "crunet/train/trainer.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "crunet/autograd/grad_mode.h"
#include "crunet/core/rng.h"
#include "crunet/dist/data_parallel.h"
#include "crunet/dist/device_binding.h"
#include "crunet/models/summary.h"
#include "crunet/nn/weights.h"
#include "crunet/ops/cross_entropy.h"
#include "crunet/train/checkpoint.h"
#include "crunet/train/metrics.h"
#include "crunet/train/plot.h"

namespace crunet::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A checkpoint written after its epoch's last update (during the validation): only the
// validation is left of the epoch. Unknown (false) for checkpoints without epoch_updates.
bool all_updates_of_the_epoch_done(const TrainerState& state) {
  return state.epoch_updates > 0 && state.step_in_epoch >= state.epoch_updates;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Rank 0 logs to the console and the run folder's train.log (not in a dry run); other ranks log
// their warnings and errors to the console only, tagged with their rank.
std::shared_ptr<spdlog::logger> make_logger(const std::string& folder, bool console,
                                            const dist::ProcessGroup& group, bool log_file) {
  std::vector<spdlog::sink_ptr> sinks;
  if (console) sinks.push_back(std::make_shared<spdlog::sinks::stdout_color_sink_mt>());
  if (group.is_main() && log_file) {
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(
        (fs::path(folder) / "train.log").string()));
  }
  auto logger = std::make_shared<spdlog::logger>("crunet-train", sinks.begin(), sinks.end());
  if (group.is_main()) {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S] %v");
  } else {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S] rank " + std::to_string(group.rank()) + ": %v");
    logger->set_level(spdlog::level::warn);
  }
  logger->flush_on(spdlog::level::info);
  return logger;
}

// train.device "cuda" is the GPU of the process's local rank among those it sees
// (dist::local_gpu_index); "cuda:N" is taken as written. A machine without a GPU keeps "cuda"
// (the constructor reports it).
Device training_device(const std::string& text, const dist::ProcessGroup& group) {
  Device device = Device::parse(text);
  if (device.is_cuda() && text == "cuda" && cuda_device_count() > 0) {
    device = Device::cuda(
        dist::local_gpu_index(cuda_device_count(), group.local_rank(), group.local_size()));
  }
  return device;
}

// "2h05m", "3m12s", "41s".
std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long total = std::llround(seconds);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", total / 3600, total % 3600 / 60);
  } else if (total >= 60) {
    std::snprintf(text, sizeof text, "%lldm%02llds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%llds", total);
  }
  return text;
}

// A one-line progress bar, redrawn in place, when the console is a terminal.
void draw_progress(std::int64_t epoch, std::int64_t epochs, std::int64_t step, std::int64_t steps,
                   double loss, double accuracy, double rate, std::pair<double, double> eta) {
  const int width = 24;
  const int filled = static_cast<int>(width * step / std::max<std::int64_t>(steps, 1));
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stdout,
               "\repoch %lld/%lld [%s] %lld/%lld loss %.4f top-1 %.2f%% %.0f img/s ETA epoch %s "
               "run %s   ",
               static_cast<long long>(epoch), static_cast<long long>(epochs), bar.c_str(),
               static_cast<long long>(step), static_cast<long long>(steps), loss, 100 * accuracy,
               rate, format_duration(eta.first).c_str(), format_duration(eta.second).c_str());
  std::fflush(stdout);
}

}  // namespace

EvalResult evaluate(models::Network& model, data::DataLoader& loader, const Device& device,
                    dist::ProcessGroup* group, Precision precision,
                    const std::function<bool()>& stop) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalResult result;
  double loss_sum = 0;
  std::int64_t top1 = 0, top5 = 0;
  const auto start = Clock::now();
  loader.start_epoch(0);
  data::Batch batch;
  bool interrupted = false;
  while (!(interrupted = stop && stop()) && loader.next(batch)) {
    const Tensor labels = batch.labels.to(device);
    Tensor logits;
    {
      PrecisionScope scope(precision);
      logits = model.forward(batch.images.to(device));
    }
    const std::int64_t n = labels.size(0);
    loss_sum += static_cast<double>(ops::cross_entropy(logits, labels).item()) * n;
    top1 += count_top_k(logits, labels, 1);
    top5 += count_top_k(logits, labels, std::min<std::int64_t>(5, logits.size(1)));
    result.samples += n;
  }
  model.train(was_training);
  if (group != nullptr && group->world_size() > 1) {
    // Sums, not averages of averages: shards differ in size when the set does not divide evenly.
    // The interrupted flags are summed too: one process stopped makes the result void for all.
    std::vector<double> sums{loss_sum, static_cast<double>(top1), static_cast<double>(top5),
                             static_cast<double>(result.samples), interrupted ? 1.0 : 0.0};
    group->all_reduce(sums, dist::ReduceOp::Sum);
    loss_sum = sums[0];
    top1 = static_cast<std::int64_t>(std::llround(sums[1]));
    top5 = static_cast<std::int64_t>(std::llround(sums[2]));
    result.samples = static_cast<std::int64_t>(std::llround(sums[3]));
    interrupted = sums[4] > 0;
  }
  result.seconds = seconds_since(start);
  if (interrupted) {
    result.interrupted = true;
    return result;
  }
  if (result.samples == 0) throw RuntimeError("evaluation: the validation set is empty");
  result.loss = loss_sum / static_cast<double>(result.samples);
  result.top1 = static_cast<double>(top1) / static_cast<double>(result.samples);
  result.top5 = static_cast<double>(top5) / static_cast<double>(result.samples);
  result.images_per_s = static_cast<double>(result.samples) / std::max(result.seconds, 1e-9);
  return result;
}

Trainer::Trainer(TrainConfig config, TrainerOptions options)
    : config_(std::move(config)), options_(std::move(options)),
      group_(options_.group ? options_.group : dist::world()), main_(group_->is_main()),
      device_(training_device(config_.loop.device, *group_)) {
  group_->set_timeout(config_.loop.dist_timeout_s);
  check_model_channels(config_);
  // A dry run on a login node checks a GPU config without the GPU: the model is built on the CPU.
  const bool no_gpu_here = device_.is_cuda() && !cuda_is_available();
  if (no_gpu_here && !options_.dry_run) {
    throw UserError(config_.path + ": train.device is " + device_.str() +
                    " but this machine has no usable CUDA GPU");
  }
  if (config_.loop.threads > 0) {
    omp_set_num_threads(static_cast<int>(config_.loop.threads));
  } else if (group_->local_size() > 1 && std::getenv("OMP_NUM_THREADS") == nullptr) {
    // The node's cores shared among its processes, not each process using them all.
    omp_set_num_threads(std::max(1, omp_get_num_procs() / group_->local_size()));
  }
  if (main_ && !options_.dry_run) {
    fs::create_directories(fs::path(config_.output_dir) / "checkpoints");
  }
  log_ = make_logger(config_.output_dir, options_.console, *group_, !options_.dry_run);
  if (no_gpu_here) {
    log_->warn("dry run: train.device {}: no CUDA GPU on this machine; everything else is "
               "checked on the CPU (the run itself needs the GPU)",
               config_.loop.device);
    device_ = Device::cpu();
  }

  manual_seed(config_.loop.seed);
  model_ = models::build(config_.model);
  if (!options_.init_weights.empty()) {
    // A checkpoint too (cli.md): its "model." tensors, checked by its CRC.
    load_model_weights(options_.init_weights, *model_, options_.init_keep);
    std::string kept;
    for (const std::string& prefix : options_.init_keep) kept += " " + prefix + "*";
    log_->info("initial weights from {}{}", options_.init_weights,
               kept.empty() ? std::string() : "; at their random initialisation:" + kept);
  }
  model_->to(device_);
  // Every process starts from rank 0's weights and BN statistics.
  dist::broadcast_module(*group_, *model_);
  if (config_.loop.sync_bn) dist::enable_sync_batch_norm(*model_, group_);
  optimizer_ = std::make_unique<optim::SGD>(model_->named_parameters(), config_.optimizer);
  reducer_ = std::make_unique<dist::GradientReducer>(group_, model_->named_parameters());
  schedule_ = std::make_unique<optim::LrSchedule>(config_.schedule);

  auto train_set = data::make_dataset(config_.data, "train");
  auto val_set = data::make_dataset(config_.data, "val");
  for (const auto& set : {train_set, val_set}) {
    data::check_model_classes(*set, config_.model.classes, config_.path);
  }
  // Each process its shard: training ranks get equal batch counts, validation sees every sample
  // exactly once across the ranks.
  data::LoaderOptions train_options = data::make_loader_options(
      config_.data, true, config_.loop.seed, group_->rank(), group_->world_size());
  data::LoaderOptions val_options = data::make_loader_options(
      config_.data, false, config_.loop.seed, group_->rank(), group_->world_size());
  train_options.pin_memory = val_options.pin_memory = config_.data.pin_memory && device_.is_cuda();
  train_loader_ = std::make_unique<data::DataLoader>(
      train_set, data::make_transform(config_.data, true), train_options);
  val_loader_ = std::make_unique<data::DataLoader>(
      val_set, data::make_transform(config_.data, false), val_options);
  if (train_loader_->batches_per_epoch() < config_.loop.accumulate) {
    throw UserError(config_.path + ": data.batch_size " + std::to_string(config_.data.batch_size) +
                    " x train.accumulate " + std::to_string(config_.loop.accumulate) +
                    (group_->world_size() > 1
                         ? " x " + std::to_string(group_->world_size()) + " processes"
                         : std::string()) +
                    " is more than the " + std::to_string(train_set->size()) +
                    " training samples");
  }
  if (!config_.loop.precision_choice.empty()) {
    log_->info("train.precision auto: {}", config_.loop.precision_choice);
  }
  log_->info("model {}: {} parameters on {} in {}; train: {}; validation: {}", config_.model.name,
             nn::count_parameters(*model_), device_.str(), precision_name(config_.loop.precision),
             train_set->describe(), val_set->describe());
  if (group_->world_size() > 1) {
    log_->info("data-parallel: {} processes ({}), {} per node; batch {} per process, {} per update; "
               "{} gradient buckets; {}",
               group_->world_size(), group_->backend(), group_->local_size(),
               config_.data.batch_size,
               config_.data.batch_size * config_.loop.accumulate * group_->world_size(),
               reducer_->bucket_count(),
               config_.loop.sync_bn ? "SyncBN" : "BN statistics per process");
  }

  adopt_layout();
  if (options_.dry_run) {
    report_dry_run();
    return;
  }
  // Rank 0 picks the checkpoint; every rank loads that file (a folder all of them see).
  std::string resume = options_.resume;
  if (resume == "auto") {
    if (main_) {
      resume = latest_valid_checkpoint((fs::path(config_.output_dir) / "checkpoints").string(),
                                       [this](const std::string& m) { log_->warn("{}", m); });
      if (resume.empty()) log_->info("--resume auto: no checkpoint yet, starting from scratch");
    }
    group_->broadcast(resume);
    // Starting over: the records of an attempt that died before its first checkpoint go, or
    // its updates would be recorded twice.
    if (resume.empty()) truncate_metrics_to_state();
  }
  if (!resume.empty()) resume_from(resume);
  if (main_) set_aside_later_checkpoints();
  last_checkpoint_time_ = Clock::now();
}

void Trainer::report_dry_run() const {
  const models::ModelSummary summary = models::summarize(*model_);
  const double parameter_mib = static_cast<double>(summary.parameters) * 4 / 1048576.0;
  // Weights, gradients and momentum in float32, and the activations a step keeps for backward.
  const double activation_mib =
      static_cast<double>(summary.activation_bytes(config_.data.batch_size)) / 1048576.0;
  log_->info("dry run: memory per process (estimate): {:.0f} MiB of weights, gradients and "
             "momentum + {:.0f} MiB of activations at batch {} (float32) = {:.0f} MiB",
             3 * parameter_mib, activation_mib, config_.data.batch_size,
             3 * parameter_mib + activation_mib);
  log_->info("dry run: {} updates per epoch, {} epochs; the run folder would be {}",
             train_loader_->batches_per_epoch() / config_.loop.accumulate, config_.loop.epochs,
             config_.output_dir);
}

Trainer::~Trainer() = default;

void Trainer::resume_from(const std::string& path) {
  state_ = load_checkpoint(path, *model_, *optimizer_);
  check_resume_layout(path);
  const std::int64_t written_by = state_.world_size * state_.batch_size * state_.accumulate;
  const bool epoch_trained = all_updates_of_the_epoch_done(state_);
  adopt_layout();
  // All of the epoch's updates were done (in whatever layout): it stays done in this one, whose
  // epoch may have more or fewer of them; what is left of it is the validation.
  if (epoch_trained) state_.step_in_epoch = state_.epoch_updates;
  if (written_by > 0 && written_by != state_.world_size * state_.batch_size * state_.accumulate) {
    log_->warn("the global batch changes from {} to {} images per update at this epoch boundary "
               "(optim.lr is as configured: scale it with the batch if that was not meant)",
               written_by, state_.world_size * state_.batch_size * state_.accumulate);
  }
  truncate_metrics_to_state();
  if (main_) keep_resumed_checkpoint_as_best(path);
  if (!main_) {
    // The saved running sums are the whole group's; rank 0 carries them on (see write_checkpoint).
    state_.epoch_loss_sum = 0;
    state_.epoch_correct = 0;
    state_.epoch_seen = 0;
  }
  if (!state_.generator_state.empty()) default_generator().set_state(state_.generator_state);
  if (!state_.schedule_state.empty()) schedule_->set_state(state_.schedule_state);
  log_->info("resumed from {}: epoch {}, update {} of the epoch ({} in all)", path, state_.epoch + 1,
             state_.step_in_epoch, state_.global_step);
}

void Trainer::check_resume_layout(const std::string& path) const {
  // Rank r reads every world_size-th sample of the epoch's shuffle, so where an epoch stopped is
  // a position in that shuffle only for the layout that wrote it. At an epoch boundary nothing
  // is in progress and any layout continues exactly; so too after the epoch's last update (a
  // checkpoint written during its validation), when only the validation is left.
  const bool same = state_.batch_size == 0 ||
                    (state_.world_size == group_->world_size() &&
                     state_.batch_size == config_.data.batch_size &&
                     state_.accumulate == config_.loop.accumulate);
  if (same || state_.step_in_epoch == 0 || all_updates_of_the_epoch_done(state_)) return;
  throw UserError(
      path + ": written mid-epoch (epoch " + std::to_string(state_.epoch + 1) + ", update " +
      std::to_string(state_.step_in_epoch) + ") by " + std::to_string(state_.world_size) +
      " process(es) x data.batch_size " + std::to_string(state_.batch_size) +
      " x train.accumulate " + std::to_string(state_.accumulate) + "; this run has " +
      std::to_string(group_->world_size()) + " x " + std::to_string(config_.data.batch_size) +
      " x " + std::to_string(config_.loop.accumulate) +
      ". The rest of that epoch cannot be continued exactly with another layout: resume with "
      "the same one, or from a checkpoint written at the end of an epoch (best.safetensors is "
      "one)");
}

void Trainer::adopt_layout() {
  state_.world_size = group_->world_size();
  state_.batch_size = config_.data.batch_size;
  state_.accumulate = config_.loop.accumulate;
  state_.epoch_updates = train_loader_->batches_per_epoch() / config_.loop.accumulate;
}

void Trainer::keep_resumed_checkpoint_as_best(const std::string& path) {
  // An end-of-epoch checkpoint records the epoch as the best before best.safetensors is linked to
  // it: a kill between the two, or a failed link, left best.safetensors on an older epoch for the
  // rest of the run, since no later epoch beats the recorded best. The link is made again here.
  const bool is_the_best =
      state_.best_epoch > 0 && state_.best_epoch == state_.epoch && state_.step_in_epoch == 0;
  const fs::path folder = fs::path(config_.output_dir) / "checkpoints";
  std::error_code error;
  if (!is_the_best || !fs::equivalent(fs::path(path).parent_path(), folder, error)) return;
  const std::string best_path = best_checkpoint_path(folder.string());
  if (fs::equivalent(path, best_path, error)) return;
  try {
    keep_as_best(path, best_path);
    log_->info("{} is the best checkpoint (epoch {}): kept again as {}", path, state_.best_epoch,
               best_path);
  } catch (const std::exception& e) {
    log_->warn("could not keep {} as the best checkpoint: {}", path, e.what());
  }
}

void Trainer::set_aside_later_checkpoints() {
  const std::string folder = (fs::path(config_.output_dir) / "checkpoints").string();
  const std::vector<std::string> moved = set_aside_checkpoints_after(folder, state_.global_step);
  if (moved.empty()) return;
  // Left in place, they would outrank this run's own checkpoints: pruning would delete the new
  // ones and --resume auto would go back to the abandoned run.
  log_->warn("{} checkpoint(s) of {} are from after update {}, where this run {}: moved to {} "
             "(delete them if they are not wanted)",
             moved.size(), folder, state_.global_step,
             state_.global_step == 0 ? "starts" : "resumes",
             fs::path(moved.front()).parent_path().string());
}

void Trainer::truncate_metrics_to_state() {
  if (!main_) return;
  const fs::path path = fs::path(config_.output_dir) / "metrics.jsonl";
  std::ifstream in(path);
  if (!in) return;
  // Kept: step records up to the checkpoint's update, epoch records of finished epochs. A line
  // cut short by a kill does not parse and goes too.
  std::vector<std::string> kept;
  std::int64_t dropped = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    bool keep = false;
    if (record.is_object() && record.contains("kind") && record.contains("global_step")) {
      const std::string kind = record["kind"].is_string() ? record["kind"].get<std::string>() : "";
      const std::int64_t step = record["global_step"].is_number_integer()
                                    ? record["global_step"].get<std::int64_t>()
                                    : std::int64_t{-1};
      if (kind == "epoch") {
        keep = record.contains("epoch") && record["epoch"].is_number_integer() &&
               record["epoch"].get<std::int64_t>() <= state_.epoch && step <= state_.global_step;
      } else {
        keep = step >= 0 && step <= state_.global_step;
      }
    }
    if (keep) {
      kept.push_back(line);
    } else {
      ++dropped;
    }
  }
  in.close();
  if (dropped == 0) return;
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const std::string& line : kept) out << line << '\n';
    if (!out) {
      log_->warn("could not rewrite {}: its records after update {} stay duplicated", path.string(),
                 state_.global_step);
      return;
    }
  }
  fs::rename(temporary, path);
  log_->info("{}: {} record(s) written after update {} removed (they are written again)",
             path.string(), dropped, state_.global_step);
}

void Trainer::append_metrics(const std::string& json_line) {
  if (!main_) return;
  std::ofstream out(fs::path(config_.output_dir) / "metrics.jsonl", std::ios::app);
  out << json_line << '\n';
}

void Trainer::global_epoch_sums(double& loss_sum, std::int64_t& correct, std::int64_t& seen) {
  loss_sum = state_.epoch_loss_sum;
  correct = state_.epoch_correct;
  seen = state_.epoch_seen;
  if (group_->world_size() == 1) return;
  std::vector<double> sums{loss_sum, static_cast<double>(correct), static_cast<double>(seen)};
  group_->all_reduce(sums, dist::ReduceOp::Sum);
  loss_sum = sums[0];
  correct = static_cast<std::int64_t>(std::llround(sums[1]));
  seen = static_cast<std::int64_t>(std::llround(sums[2]));
}

Trainer::Requests Trainer::poll_requests() {
  Requests here;
  here.stop = options_.stop_requested && options_.stop_requested();
  here.checkpoint = config_.loop.checkpoint_every_seconds > 0 &&
                    seconds_since(last_checkpoint_time_) >= config_.loop.checkpoint_every_seconds;
  if (group_->world_size() == 1) return here;
  // A signal (or a timer) fires on the processes at different updates; they act together, at
  // the same one.
  std::vector<double> flags{here.stop ? 1.0 : 0.0, here.checkpoint ? 1.0 : 0.0};
  group_->all_reduce(flags, dist::ReduceOp::Max);
  return {flags[0] > 0, flags[1] > 0};
}

std::pair<double, double> Trainer::eta_seconds(std::int64_t steps_per_epoch) const {
  if (state_.step_in_epoch == 0) return {NAN, NAN};
  const double per_update = state_.epoch_seconds / static_cast<double>(state_.step_in_epoch);
  const double epoch_left = per_update * static_cast<double>(steps_per_epoch - state_.step_in_epoch);
  const std::int64_t epochs_after = config_.loop.epochs - state_.epoch - 1;
  std::int64_t validations_left = 0;  // this epoch's included
  for (std::int64_t e = state_.epoch + 1; e <= config_.loop.epochs; ++e) {
    if (e % config_.loop.eval_every == 0 || e == config_.loop.epochs) ++validations_left;
  }
  const double run_left = epoch_left +
                          per_update * static_cast<double>(steps_per_epoch * epochs_after) +
                          last_validation_seconds_ * static_cast<double>(validations_left);
  return {epoch_left, run_left};
}

void Trainer::write_checkpoint(TrainResult& result) {
  const std::string folder = (fs::path(config_.output_dir) / "checkpoints").string();
  result.checkpoint = checkpoint_path(folder, state_.global_step);
  last_checkpoint_time_ = Clock::now();  // every process: the timer is polled on all of them
  if (group_->world_size() > 1) {
    // Rank 0 saves, so the others adopt its BN statistics (equal already with SyncBN) and the
    // running sums become the group's, held by rank 0: a resumed run continues identically.
    dist::broadcast_buffers(*group_, *model_);
    double loss_sum = 0;
    std::int64_t correct = 0, seen = 0;
    global_epoch_sums(loss_sum, correct, seen);
    state_.epoch_loss_sum = main_ ? loss_sum : 0;
    state_.epoch_correct = main_ ? correct : 0;
    state_.epoch_seen = main_ ? seen : 0;
  }
  if (!main_) return;
  state_.generator_state = default_generator().state();
  state_.schedule_state = schedule_->state();
  save_checkpoint(result.checkpoint, *model_, *optimizer_, state_, config_.resolved_yaml);
  const std::vector<std::string> existing = list_checkpoints(folder);
  for (std::size_t i = static_cast<std::size_t>(config_.loop.keep_checkpoints); i < existing.size(); ++i) {
    std::error_code ignored;
    fs::remove(existing[i], ignored);
  }
}

bool Trainer::end_epoch(TrainResult& result, double lr) {
  EpochRecord record;
  record.epoch = state_.epoch + 1;
  double loss_sum = 0;
  std::int64_t correct = 0, seen_count = 0;
  global_epoch_sums(loss_sum, correct, seen_count);
  const double seen = static_cast<double>(std::max<std::int64_t>(seen_count, 1));
  record.train_loss = loss_sum / seen;
  record.train_top1 = static_cast<double>(correct) / seen;
  record.lr = lr;
  record.seconds = state_.epoch_seconds;
  record.images_per_s = seen_count / std::max(state_.epoch_seconds, 1e-9);
  record.val_loss = record.val_top1 = record.val_top5 = -1;
  if (record.epoch % config_.loop.eval_every == 0 || record.epoch == config_.loop.epochs) {
    // Validate the model that rank 0 will save: its BN statistics on every process.
    dist::broadcast_buffers(*group_, *model_);
    const EvalResult eval = evaluate(*model_, *val_loader_, device_, group_.get(),
                                     config_.loop.precision, options_.stop_requested);
    if (eval.interrupted) return false;
    last_validation_seconds_ = eval.seconds;
    record.val_loss = eval.loss;
    record.val_top1 = eval.top1;
    record.val_top5 = eval.top5;
    if (schedule_->observe(eval.top1)) {
      log_->info("validation accuracy stopped improving: learning rate x{}", config_.schedule.gamma);
    }
  }
  state_.history.push_back(record);
  result.last = record;
  append_metrics(nlohmann::json{{"kind", "epoch"}, {"epoch", record.epoch},
                                {"global_step", state_.global_step},
                                {"train_loss", record.train_loss}, {"train_top1", record.train_top1},
                                {"val_loss", record.val_loss}, {"val_top1", record.val_top1},
                                {"val_top5", record.val_top5}, {"lr", record.lr},
                                {"images_per_s", record.images_per_s}, {"time", record.seconds}}
                     .dump());
  log_->info("epoch {}/{}: train loss {:.4f} top-1 {:.2f}% | validation loss {:.4f} top-1 {:.2f}% "
             "top-5 {:.2f}% | lr {:.5f} | {:.0f} img/s, {:.1f} s",
             record.epoch, config_.loop.epochs, record.train_loss, 100 * record.train_top1,
             record.val_loss, 100 * record.val_top1, 100 * record.val_top5, lr,
             record.images_per_s, record.seconds);
  if (main_) {
    write_training_curves((fs::path(config_.output_dir) / "curves.svg").string(), state_.history,
                          config_.model.name);
  }
  ++state_.epoch;
  state_.step_in_epoch = 0;
  state_.epoch_loss_sum = 0;
  state_.epoch_correct = 0;
  state_.epoch_seen = 0;
  state_.epoch_seconds = 0;
  const bool best = record.val_top1 >= 0 && record.val_top1 > state_.best_top1;
  if (best) {
    state_.best_top1 = record.val_top1;
    state_.best_epoch = record.epoch;
  }
  write_checkpoint(result);
  if (best && main_) {
    const std::string best_path =
        best_checkpoint_path((fs::path(config_.output_dir) / "checkpoints").string());
    try {
      keep_as_best(result.checkpoint, best_path);
      log_->info("best validation top-1 so far ({:.2f}%, epoch {}): {}", 100 * state_.best_top1,
                 state_.best_epoch, best_path);
    } catch (const std::exception& e) {
      log_->warn("could not keep {} as the best checkpoint: {}", result.checkpoint, e.what());
    }
  }
  return true;
}

TrainResult Trainer::run() {
  if (options_.dry_run) throw ValueError("Trainer::run: this trainer was made for a dry run");
  if (main_) {
    std::ofstream out(fs::path(config_.output_dir) / "config.yaml");
    out << config_.resolved_yaml;
  }
  TrainResult result;
  const std::int64_t accumulate = config_.loop.accumulate;
  const std::int64_t steps_per_epoch = train_loader_->batches_per_epoch() / accumulate;
  const bool terminal = main_ && options_.console && isatty(fileno(stdout));
  const float backward_scale = 1.0f / static_cast<float>(accumulate);
  // The rate of the update last taken (a resumed epoch's), as the epoch record reports it.
  double lr = schedule_->lr_at(
      static_cast<double>(state_.epoch) +
      static_cast<double>(std::max<std::int64_t>(state_.step_in_epoch - 1, 0)) / steps_per_epoch);
  while (state_.epoch < config_.loop.epochs) {
    model_->train();
    train_loader_->start_epoch(state_.epoch, state_.step_in_epoch * accumulate);
    auto last_time = Clock::now();
    auto last_draw = last_time;
    std::int64_t micro = 0;
    data::Batch batch;
    while (state_.step_in_epoch < steps_per_epoch && train_loader_->next(batch)) {
      const Tensor images = batch.images.to(device_);
      const Tensor labels = batch.labels.to(device_);
      // The precision mode covers the forward and the backward pass (TF32 applies to both).
      PrecisionScope precision(config_.loop.precision);
      const Tensor logits = model_->forward(images);
      const Tensor loss = ops::cross_entropy(logits, labels, {config_.loop.label_smoothing});
      const float loss_value = loss.item();
      if (!std::isfinite(loss_value)) {
        throw RuntimeError("the loss became " + std::string(std::isnan(loss_value) ? "NaN" : "infinite") +
                           " at epoch " + std::to_string(state_.epoch + 1) + ", update " +
                           std::to_string(state_.step_in_epoch + 1) + " (learning rate " +
                           std::to_string(lr) + "); training stopped. The newest checkpoint" +
                           (result.checkpoint.empty() ? " (none was written yet)"
                                                      : " " + result.checkpoint) +
                           " is the last good state; try a lower optim.lr");
      }
      // The last micro-batch's backward starts averaging gradients over the processes as they
      // become final; the earlier ones only accumulate locally.
      if (micro + 1 == accumulate) reducer_->prepare();
      loss.backward(accumulate > 1 ? full({}, backward_scale, TensorOptions(loss.dtype(), loss.device()))
                                   : Tensor());
      const std::int64_t n = labels.size(0);
      state_.epoch_loss_sum += static_cast<double>(loss_value) * n;
      state_.epoch_correct += count_top_k(logits, labels, 1);
      state_.epoch_seen += n;
      if (++micro < accumulate) continue;
      micro = 0;
      reducer_->finish();
      lr = schedule_->lr_at(static_cast<double>(state_.epoch) +
                            static_cast<double>(state_.step_in_epoch) / steps_per_epoch);
      optimizer_->set_lr(lr);
      optimizer_->step();
      optimizer_->zero_grad();
      ++state_.step_in_epoch;
      ++state_.global_step;
      const auto now = Clock::now();
      state_.epoch_seconds += std::chrono::duration<double>(now - last_time).count();
      last_time = now;
      // This process's running figures (for the progress bar), the group's at each log record.
      double running_loss = state_.epoch_loss_sum / state_.epoch_seen;
      double running_top1 = static_cast<double>(state_.epoch_correct) / state_.epoch_seen;
      double rate = static_cast<double>(state_.epoch_seen) * group_->world_size() /
                    std::max(state_.epoch_seconds, 1e-9);
      if (state_.global_step % config_.loop.log_every == 0) {
        double loss_sum = 0;
        std::int64_t correct = 0, seen = 0;
        global_epoch_sums(loss_sum, correct, seen);
        running_loss = loss_sum / static_cast<double>(seen);
        running_top1 = static_cast<double>(correct) / static_cast<double>(seen);
        rate = static_cast<double>(seen) / std::max(state_.epoch_seconds, 1e-9);
        append_metrics(nlohmann::json{{"kind", "step"}, {"epoch", state_.epoch + 1},
                                      {"step", state_.step_in_epoch},
                                      {"global_step", state_.global_step}, {"loss", running_loss},
                                      {"top1", running_top1}, {"lr", lr}, {"images_per_s", rate},
                                      {"time", state_.epoch_seconds}}
                           .dump());
        if (!terminal) {
          const std::pair<double, double> eta = eta_seconds(steps_per_epoch);
          log_->info("epoch {}/{} update {}/{}: loss {:.4f} top-1 {:.2f}% lr {:.5f} {:.0f} img/s "
                     "| ETA epoch {}, run {}",
                     state_.epoch + 1, config_.loop.epochs, state_.step_in_epoch, steps_per_epoch,
                     running_loss, 100 * running_top1, lr, rate, format_duration(eta.first),
                     format_duration(eta.second));
        }
      }
      if (terminal && (seconds_since(last_draw) > 0.25 || state_.step_in_epoch == steps_per_epoch)) {
        draw_progress(state_.epoch + 1, config_.loop.epochs, state_.step_in_epoch, steps_per_epoch,
                      running_loss, running_top1, rate, eta_seconds(steps_per_epoch));
        last_draw = now;
      }
      const Requests requests = poll_requests();
      const bool checkpoint_due = requests.checkpoint ||
                                  (config_.loop.checkpoint_every > 0 &&
                                   state_.global_step % config_.loop.checkpoint_every == 0);
      if (checkpoint_due || requests.stop) write_checkpoint(result);
      if (requests.stop) {
        if (terminal) std::fputs("\n", stdout);
        log_->info("stopped by a signal at epoch {}, update {}; checkpoint {}; continue with "
                   "--resume auto",
                   state_.epoch + 1, state_.step_in_epoch, result.checkpoint);
        result.interrupted = true;
        return result;
      }
    }
    if (terminal) std::fputs("\n", stdout);
    if (!end_epoch(result, lr)) {
      // Stopped during validation: the epoch's training is done and saved; a resume validates.
      write_checkpoint(result);
      log_->info("stopped by a signal during the validation of epoch {}; checkpoint {} (the "
                 "validation runs again on --resume auto)",
                 state_.epoch + 1, result.checkpoint);
      result.interrupted = true;
      return result;
    }
  }
  result.weights = (fs::path(config_.output_dir) / "model.safetensors").string();
  if (main_) save_weights(*model_, result.weights, {{"model", config_.model.name}});
  log_->info("finished: weights {}, last checkpoint {}", result.weights, result.checkpoint);
  return result;
}

}  // namespace crunet::train
