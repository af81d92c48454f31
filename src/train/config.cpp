#include "crunet/train/config.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "config/yaml_reader.h"
#include "crunet/core/device.h"
#include "crunet/core/error.h"
#include "data/data_config_parse.h"
#include "models/spec_parse.h"

namespace crunet::train {
namespace {

namespace fs = std::filesystem;
using config::YamlReader;

// The keys each section accepts. The parser checks against these lists and config_keys() reports
// them (with the data section's own, from data::config_keys()), so the documentation test
// (tests/train/config_keys_test.cpp) sees exactly what the parser accepts.
const std::vector<std::string> kTopKeys = {"model", "data", "optim", "schedule", "train", "output"};
const std::vector<std::string> kOptimKeys = {"lr", "momentum", "nesterov", "weight_decay",
                                             "decay"};
const std::vector<std::string> kDecayScopes = {"all", "weights_and_gammas", "weights"};
const std::vector<std::string> kScheduleKeys = {"type", "warmup_epochs", "warmup_start",
                                                "step_epochs", "gamma", "milestones", "min_lr",
                                                "patience", "threshold"};
const std::vector<std::string> kTrainKeys = {"epochs", "accumulate", "seed", "device",
                                             "precision", "threads", "label_smoothing",
                                             "log_every", "eval_every", "checkpoint_every",
                                             "keep_checkpoints", "sync_bn", "dist_timeout_s"};
const std::vector<std::string> kPrecisions = {"fp32", "tf32", "bf16", "auto"};
const std::vector<std::string> kOutputKeys = {"dir"};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

// `model: crunet56` (a zoo name, or a spec file relative to the config) as the spec's own map, so
// that `--set model.classes=102` can change a key of it (fine-tuning on another data set).
YAML::Node inline_model_spec(const std::string& name, const std::string& config_path,
                             const std::string& text) {
  std::error_code error;
  const fs::path relative = fs::path(config_path).parent_path() / name;
  const std::string file =
      models::model_spec_file(fs::is_regular_file(relative, error) ? relative.string() : name);
  YAML::Node spec = config::load_yaml_file(file);
  if (spec.IsMap() && spec["model"]) spec = spec["model"];  // a training config's model
  if (!spec.IsMap()) {
    throw UserError("--set " + text + ": the model of " + config_path + " is '" + name +
                    "', whose file " + file + " names another; set its keys in that file");
  }
  return spec;
}

// Applies "a.b.c=value" to the document; the path must name a key that exists or whose parent map
// exists (so that optional keys can be set).
void apply_override(YAML::Node document, const std::string& path, const std::string& text) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UserError("--set '" + text + "': expected key.path=value");
  }
  const std::vector<std::string> keys = split(text.substr(0, equals), '.');
  const std::string value_text = text.substr(equals + 1);
  YAML::Node value = config::parse_yaml(value_text.empty() ? "''" : value_text, "--set " + text);
  if (!document.IsMap() && !document.IsNull()) {
    throw UserError(path + ": the document must be a map of keys to values (--set " + text + ")");
  }
  if (keys.size() > 1 && keys[0] == "model" && document["model"] &&
      document["model"].IsScalar()) {
    document["model"] = inline_model_spec(document["model"].Scalar(), path, text);
  }
  std::vector<YAML::Node> chain{document};
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node next = chain.back()[keys[i]];
    if (next && !next.IsMap() && !next.IsNull()) {
      throw UserError("--set " + text + ": " + path + ": '" + keys[i] +
                      "' is a value, not a section with keys");
    }
    if (!next || !next.IsMap()) {
      std::vector<std::string> known;
      for (const auto& entry : chain.back()) {
        if (entry.first.IsScalar()) known.push_back(entry.first.Scalar());
      }
      throw UserError("--set " + text + ": " + path + " has no section '" + keys[i] + "'" +
                      config::did_you_mean(keys[i], known));
    }
    chain.push_back(next);
  }
  chain.back()[keys.back()] = value;
}

optim::SGDOptions parse_optimizer(const YamlReader& r) {
  if (r.has("decay_norm_and_bias")) {  // the key of earlier versions
    r.report("decay_norm_and_bias",
             "was replaced by decay: all | weights_and_gammas | weights (true was 'all', false "
             "was 'weights')");
  }
  r.check_keys(kOptimKeys);
  optim::SGDOptions o;
  o.lr = r.number("lr", o.lr);
  o.momentum = r.number("momentum", o.momentum);
  o.nesterov = r.boolean("nesterov", o.nesterov);
  o.weight_decay = r.number("weight_decay", o.weight_decay);
  const std::string scope = r.text("decay", optim::weight_decay_scope_name(o.decay));
  if (scope == "all") {
    o.decay = optim::WeightDecayScope::All;
  } else if (scope == "weights_and_gammas") {
    o.decay = optim::WeightDecayScope::WeightsAndGammas;
  } else if (scope == "weights") {
    o.decay = optim::WeightDecayScope::Weights;
  } else {
    r.report("decay", "unknown scope '" + scope + "' (known: all, weights_and_gammas, weights)" +
                          config::did_you_mean(scope, kDecayScopes));
  }
  if (!(o.lr > 0)) r.report("lr", "must be positive, got " + std::to_string(o.lr));
  // The update converts both to float: beyond its range that conversion is undefined.
  if (o.lr > 1e30) r.report("lr", "must be at most 1e30");
  if (o.weight_decay > 1e30) r.report("weight_decay", "must be at most 1e30");
  if (!(o.momentum >= 0 && o.momentum < 1)) r.report("momentum", "must be in [0, 1)");
  if (!(o.weight_decay >= 0)) r.report("weight_decay", "must not be negative");
  if (o.nesterov && o.momentum == 0) r.report("nesterov", "Nesterov momentum needs momentum > 0");
  return o;
}

optim::ScheduleOptions parse_schedule(const YamlReader& r, double base_lr, double epochs) {
  r.check_keys(kScheduleKeys);
  optim::ScheduleOptions s;
  s.base_lr = base_lr;
  s.total_epochs = epochs;
  s.type = r.text("type", s.type);
  if (s.type != "constant" && s.type != "step" && s.type != "multistep" && s.type != "cosine" &&
      s.type != "plateau") {
    r.report("type", "unknown schedule '" + s.type +
                         "' (known: constant, step, multistep, cosine, plateau)" +
                         config::did_you_mean(
                             s.type, {"constant", "step", "multistep", "cosine", "plateau"}));
    s.type = optim::ScheduleOptions().type;
  }
  s.warmup_epochs = r.number("warmup_epochs", s.warmup_epochs);
  s.warmup_start = r.number("warmup_start", s.warmup_start);
  s.step_epochs = r.number("step_epochs", s.step_epochs);
  s.gamma = r.number("gamma", s.gamma);
  s.min_lr = r.number("min_lr", s.min_lr);
  // Checked as read: the int it goes to would wrap 4294967296 round to 0.
  const std::int64_t patience = r.integer("patience", s.patience);
  if (patience < 0) r.report("patience", "must not be negative");
  if (patience > 1000000) r.report("patience", "must be at most 1000000");
  s.patience = static_cast<int>(std::clamp<std::int64_t>(patience, 0, 1000000));
  s.threshold = r.number("threshold", s.threshold);
  if (r.has("milestones")) {
    const YAML::Node list = r.node("milestones");
    if (!list.IsSequence()) {
      r.report("milestones", "must be a list of epochs");
    } else {
      for (std::size_t i = 0; i < list.size(); ++i) {
        double epoch = 0;
        if (!list[i].IsScalar() || !YAML::convert<double>::decode(list[i], epoch) ||
            !std::isfinite(epoch)) {
          r.report("milestones", "must be a list of numbers");
          break;
        }
        s.milestones.push_back(epoch);
      }
    }
  }
  if (!(s.warmup_epochs >= 0)) r.report("warmup_epochs", "must not be negative");
  if (!(s.warmup_start >= 0 && s.warmup_start <= 1)) r.report("warmup_start", "must be in [0, 1]");
  if (!(s.step_epochs > 0)) r.report("step_epochs", "must be positive");
  if (!(s.gamma > 0 && s.gamma <= 1)) r.report("gamma", "must be in (0, 1]");
  if (!(s.min_lr >= 0)) r.report("min_lr", "must not be negative");
  return s;
}

// train.checkpoint_every: an integer (updates) or a wall time with its unit ("30min", "2h",
// "90s"), which preemptible clusters want: the time lost to a kill is bounded in minutes whatever
// the speed of an update.
void parse_checkpoint_every(const YamlReader& r, LoopOptions& o) {
  if (!r.has("checkpoint_every")) return;
  if (!r.node("checkpoint_every").IsScalar()) {
    r.report("checkpoint_every", "expected a number of updates (500) or a wall time (30min)");
    return;
  }
  const std::string text = r.text("checkpoint_every");
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  std::string unit(end);
  unit.erase(0, unit.find_first_not_of(' '));
  const std::vector<std::pair<std::string, double>> units = {
      {"s", 1}, {"sec", 1}, {"min", 60}, {"m", 60}, {"h", 3600}};
  const std::string expected =
      "expected a number of updates (500) or a wall time with its unit (30min, 2h, 90s), not '" +
      text + "'";
  if (end == begin || !std::isfinite(value) || value < 0) {
    r.report("checkpoint_every", expected);
    return;
  }
  if (unit.empty()) {
    if (value != std::floor(value)) {
      r.report("checkpoint_every", "a number of updates must be a whole number; " + expected);
      return;
    }
    if (value >= 9.2e18) {  // beyond int64_t: the conversion would be undefined
      r.report("checkpoint_every", "a number of updates must be below 9.2e18; " + expected);
      return;
    }
    o.checkpoint_every = static_cast<std::int64_t>(value);
    return;
  }
  for (const auto& [name, seconds] : units) {
    if (unit == name) {
      o.checkpoint_every_seconds = value * seconds;
      if (!(o.checkpoint_every_seconds > 0)) r.report("checkpoint_every", "must be positive");
      return;
    }
  }
  r.report("checkpoint_every", "unknown unit '" + unit + "' (s, min, h); " + expected);
}

LoopOptions parse_loop(const YamlReader& r) {
  r.check_keys(kTrainKeys);
  LoopOptions o;
  o.epochs = r.integer("epochs", o.epochs);
  o.accumulate = r.integer("accumulate", o.accumulate);
  o.seed = static_cast<std::uint64_t>(r.integer("seed", 0));
  o.device = r.text("device", o.device);
  o.threads = r.integer("threads", o.threads);
  const double smoothing = r.number("label_smoothing", o.label_smoothing);
  o.label_smoothing = smoothing >= 0 && smoothing < 1 ? static_cast<float>(smoothing) : -1.0f;
  o.log_every = r.integer("log_every", o.log_every);
  o.eval_every = r.integer("eval_every", o.eval_every);
  parse_checkpoint_every(r, o);
  o.keep_checkpoints = r.integer("keep_checkpoints", o.keep_checkpoints);
  o.sync_bn = r.boolean("sync_bn", o.sync_bn);
  o.dist_timeout_s = r.number("dist_timeout_s", o.dist_timeout_s);
  if (o.epochs <= 0) r.report("epochs", "must be a positive integer");
  if (o.accumulate <= 0) r.report("accumulate", "must be a positive integer");
  if (r.integer("seed", 0) < 0) r.report("seed", "must not be negative");
  const std::string precision = r.text("precision", precision_name(o.precision));
  bool known_precision = true;
  try {
    if (precision != "auto") o.precision = parse_precision(precision);
  } catch (const ValueError& e) {
    r.report("precision", "unknown precision '" + precision + "' (known: fp32, tf32, bf16, auto)" +
                              config::did_you_mean(precision, kPrecisions));
    known_precision = false;
  }
  try {
    const Device device = Device::parse(o.device);
    if (precision == "auto") {
      const PrecisionChoice choice = choose_auto_precision(device);
      o.precision = choice.precision;
      o.precision_choice = std::string(precision_name(choice.precision)) + " (" + choice.reason + ")";
    }
    const std::string unsupported = precision_unsupported_reason(o.precision, device);
    if (known_precision && !unsupported.empty()) r.report("precision", unsupported);
  } catch (const ValueError& e) {
    r.report("device", e.what());
  }
  if (o.sync_bn && o.precision == Precision::kBf16) {
    r.report("precision", "bf16 does not combine with train.sync_bn yet (SyncBN takes float32 "
                          "activations); use fp32 or tf32, or sync_bn: false");
  }
  if (o.threads < 0) r.report("threads", "must not be negative");
  // The value goes to omp_set_num_threads as an int; tens of thousands of threads fail to start.
  if (o.threads > 4096) r.report("threads", "must be at most 4096");
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) r.report("label_smoothing", "must be in [0, 1)");
  if (o.log_every <= 0) r.report("log_every", "must be a positive integer");
  if (o.eval_every <= 0) r.report("eval_every", "must be a positive integer");
  if (o.keep_checkpoints <= 0) r.report("keep_checkpoints", "must be a positive integer");
  if (!(o.dist_timeout_s > 0) || !std::isfinite(o.dist_timeout_s)) {
    r.report("dist_timeout_s", "must be a positive number of seconds");
  }
  return o;
}

models::ModelSpec parse_model(const YamlReader& top, const std::string& path) {
  const YAML::Node model = top.node("model");
  if (!model || model.IsNull()) {
    top.report("model", "missing required key 'model' (a zoo name, a file, or a spec)");
    return {};
  }
  if (model.IsMap()) return models::parse_model_spec(top.map("model"));
  const std::string name = top.text("model");
  if (name.empty()) return {};
  std::error_code error;
  const fs::path relative = fs::path(path).parent_path() / name;
  try {
    return models::load_model_spec(fs::is_regular_file(relative, error) ? relative.string() : name);
  } catch (const UserError& e) {
    top.report("model", e.what());
    return {};
  }
}

}  // namespace

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node document = config::load_yaml_file(path);
  for (const std::string& text : overrides) apply_override(document, path, text);
  // Every problem of the document is collected and reported at once (one per line).
  const auto problems = std::make_shared<config::Problems>();
  for (const std::string& text : overrides) {  // checked well-formed by apply_override
    problems->set_origin(text.substr(0, text.find('=')), "--set " + text);
  }
  const YamlReader top(document, path, "", problems);
  top.check_keys(kTopKeys);
  TrainConfig config;
  config.path = path;
  std::ostringstream resolved;
  resolved << document;
  config.resolved_yaml = resolved.str() + "\n";
  problems->guard([&] { config.model = parse_model(top, path); });
  problems->guard([&] { config.data = data::parse_data_config(top.map("data")); });
  problems->guard([&] { config.optimizer = parse_optimizer(top.optional_map("optim")); });
  problems->guard([&] { config.loop = parse_loop(top.optional_map("train")); });
  problems->guard([&] {
    config.schedule = parse_schedule(top.optional_map("schedule"), config.optimizer.lr,
                                     static_cast<double>(config.loop.epochs));
  });
  problems->guard([&] {
    const YamlReader output = top.optional_map("output");
    output.check_keys(kOutputKeys);
    config.output_dir = output.text("dir", "runs/" + fs::path(path).stem().string());
  });
  problems->raise(path);
  return config;
}

void check_model_channels(const TrainConfig& config) {
  if (config.model.in_channels != config.data.channels) {
    throw UserError(
        config.path + ": data.channels: the images are decoded to " +
        std::to_string(config.data.channels) + " channel(s) but model.input.channels is " +
        std::to_string(config.model.in_channels) +
        " (set data.channels: " + std::to_string(config.model.in_channels) + ", or the model's)");
  }
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  auto add = [&keys](const std::string& prefix, const std::vector<std::string>& names) {
    for (const std::string& name : names) keys.push_back(prefix + name);
  };
  add("", kTopKeys);
  add("data.", data::config_keys());
  add("optim.", kOptimKeys);
  add("schedule.", kScheduleKeys);
  add("train.", kTrainKeys);
  add("output.", kOutputKeys);
  return keys;
}

}  // namespace crunet::train
