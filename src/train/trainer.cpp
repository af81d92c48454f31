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
#include "crunet/nn/weights.h"
#include "crunet/ops/cross_entropy.h"
#include "crunet/train/checkpoint.h"
#include "crunet/train/metrics.h"
#include "crunet/train/plot.h"

namespace crunet::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Rank 0 logs to the console and the run folder's train.log; other ranks log their warnings and
// errors to the console only, tagged with their rank.
std::shared_ptr<spdlog::logger> make_logger(const std::string& folder, bool console,
                                            const dist::ProcessGroup& group) {
  std::vector<spdlog::sink_ptr> sinks;
  if (console) sinks.push_back(std::make_shared<spdlog::sinks::stdout_color_sink_mt>());
  if (group.is_main()) {
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

// train.device "cuda" in a data-parallel run is the GPU of the local rank; "cuda:N" is taken as
// written.
Device training_device(const std::string& text, const dist::ProcessGroup& group) {
  Device device = Device::parse(text);
  if (device.is_cuda() && text == "cuda" && group.world_size() > 1) {
    device = Device::cuda(group.local_rank());
  }
  return device;
}

// A one-line progress bar, redrawn in place, when the console is a terminal.
void draw_progress(std::int64_t epoch, std::int64_t epochs, std::int64_t step, std::int64_t steps,
                   double loss, double accuracy, double rate) {
  const int width = 24;
  const int filled = static_cast<int>(width * step / std::max<std::int64_t>(steps, 1));
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stdout, "\repoch %lld/%lld [%s] %lld/%lld loss %.4f top-1 %.2f%% %.0f img/s   ",
               static_cast<long long>(epoch), static_cast<long long>(epochs), bar.c_str(),
               static_cast<long long>(step), static_cast<long long>(steps), loss, 100 * accuracy,
               rate);
  std::fflush(stdout);
}

}  // namespace

EvalResult evaluate(models::Network& model, data::DataLoader& loader, const Device& device,
                    dist::ProcessGroup* group, Precision precision) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalResult result;
  double loss_sum = 0;
  std::int64_t top1 = 0, top5 = 0;
  const auto start = Clock::now();
  loader.start_epoch(0);
  data::Batch batch;
  while (loader.next(batch)) {
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
    std::vector<double> sums{loss_sum, static_cast<double>(top1), static_cast<double>(top5),
                             static_cast<double>(result.samples)};
    group->all_reduce(sums, dist::ReduceOp::Sum);
    loss_sum = sums[0];
    top1 = static_cast<std::int64_t>(std::llround(sums[1]));
    top5 = static_cast<std::int64_t>(std::llround(sums[2]));
    result.samples = static_cast<std::int64_t>(std::llround(sums[3]));
  }
  if (result.samples == 0) throw RuntimeError("evaluation: the validation set is empty");
  result.loss = loss_sum / static_cast<double>(result.samples);
  result.top1 = static_cast<double>(top1) / static_cast<double>(result.samples);
  result.top5 = static_cast<double>(top5) / static_cast<double>(result.samples);
  result.images_per_s = static_cast<double>(result.samples) / std::max(seconds_since(start), 1e-9);
  return result;
}

Trainer::Trainer(TrainConfig config, TrainerOptions options)
    : config_(std::move(config)), options_(std::move(options)),
      group_(options_.group ? options_.group : dist::world()), main_(group_->is_main()),
      device_(training_device(config_.loop.device, *group_)) {
  group_->set_timeout(config_.loop.dist_timeout_s);
  if (device_.is_cuda() && !cuda_is_available()) {
    throw UserError(config_.path + ": train.device is " + device_.str() +
                    " but this machine has no usable CUDA GPU");
  }
  if (config_.loop.threads > 0) {
    omp_set_num_threads(static_cast<int>(config_.loop.threads));
  } else if (group_->local_size() > 1 && std::getenv("OMP_NUM_THREADS") == nullptr) {
    // The node's cores shared among its processes, not each process using them all.
    omp_set_num_threads(std::max(1, omp_get_num_procs() / group_->local_size()));
  }
  if (main_) fs::create_directories(fs::path(config_.output_dir) / "checkpoints");
  log_ = make_logger(config_.output_dir, options_.console, *group_);

  manual_seed(config_.loop.seed);
  model_ = models::build(config_.model);
  if (!options_.init_weights.empty()) {
    load_weights(*model_, options_.init_weights, options_.init_keep);
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

  // Rank 0 picks the checkpoint; every rank loads that file (a folder all of them see).
  std::string resume = options_.resume;
  if (resume == "auto") {
    if (main_) {
      resume = latest_valid_checkpoint((fs::path(config_.output_dir) / "checkpoints").string(),
                                       [this](const std::string& m) { log_->warn("{}", m); });
      if (resume.empty()) log_->info("--resume auto: no checkpoint yet, starting from scratch");
    }
    group_->broadcast(resume);
  }
  if (!resume.empty()) resume_from(resume);
}

Trainer::~Trainer() = default;

void Trainer::resume_from(const std::string& path) {
  state_ = load_checkpoint(path, *model_, *optimizer_);
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

bool Trainer::stop_requested() {
  const bool here = options_.stop_requested && options_.stop_requested();
  if (group_->world_size() == 1) return here;
  // A signal reaches the processes at different updates; they stop together, at the same one.
  std::vector<double> flag{here ? 1.0 : 0.0};
  group_->all_reduce(flag, dist::ReduceOp::Max);
  return flag[0] > 0;
}

void Trainer::write_checkpoint(TrainResult& result) {
  const std::string folder = (fs::path(config_.output_dir) / "checkpoints").string();
  result.checkpoint = checkpoint_path(folder, state_.global_step);
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

void Trainer::end_epoch(TrainResult& result, double lr) {
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
    const EvalResult eval =
        evaluate(*model_, *val_loader_, device_, group_.get(), config_.loop.precision);
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
  write_checkpoint(result);
}

TrainResult Trainer::run() {
  if (main_) {
    std::ofstream out(fs::path(config_.output_dir) / "config.yaml");
    out << config_.resolved_yaml;
  }
  TrainResult result;
  const std::int64_t accumulate = config_.loop.accumulate;
  const std::int64_t steps_per_epoch = train_loader_->batches_per_epoch() / accumulate;
  const bool terminal = main_ && options_.console && isatty(fileno(stdout));
  const float backward_scale = 1.0f / static_cast<float>(accumulate);
  double lr = schedule_->lr_at(static_cast<double>(state_.epoch));
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
          log_->info("epoch {}/{} update {}/{}: loss {:.4f} top-1 {:.2f}% lr {:.5f} {:.0f} img/s",
                     state_.epoch + 1, config_.loop.epochs, state_.step_in_epoch, steps_per_epoch,
                     running_loss, 100 * running_top1, lr, rate);
        }
      }
      if (terminal && (seconds_since(last_draw) > 0.25 || state_.step_in_epoch == steps_per_epoch)) {
        draw_progress(state_.epoch + 1, config_.loop.epochs, state_.step_in_epoch, steps_per_epoch,
                      running_loss, running_top1, rate);
        last_draw = now;
      }
      if (config_.loop.checkpoint_every > 0 &&
          state_.global_step % config_.loop.checkpoint_every == 0) {
        write_checkpoint(result);
      }
      if (stop_requested()) {
        if (terminal) std::fputs("\n", stdout);
        write_checkpoint(result);
        log_->info("stopped by a signal at epoch {}, update {}; checkpoint {}; continue with "
                   "--resume auto",
                   state_.epoch + 1, state_.step_in_epoch, result.checkpoint);
        result.interrupted = true;
        return result;
      }
    }
    if (terminal) std::fputs("\n", stdout);
    end_epoch(result, lr);
  }
  result.weights = (fs::path(config_.output_dir) / "model.safetensors").string();
  if (main_) save_weights(*model_, result.weights, {{"model", config_.model.name}});
  log_->info("finished: weights {}, last checkpoint {}", result.weights, result.checkpoint);
  return result;
}

}  // namespace crunet::train
