// crunet-train: trains a model from a config; SIGINT/SIGTERM finish the update, write a checkpoint
// and exit cleanly; --resume auto continues from the newest valid checkpoint. Under mpirun or srun
// every process runs it (docs/distributed.md); a process that fails stops the whole job.
#include <csignal>
#include <filesystem>
#include <iostream>

#include "crunet/crunet.h"
#include "crunet/data/loader.h"
#include "crunet/train/trainer.h"
#include "tool_main.h"

namespace {

// The only state a signal handler may touch.
volatile std::sig_atomic_t stop_signal = 0;

extern "C" void on_stop_signal(int signal) { stop_signal = signal; }

// A run folder that is a file (or under one) failed at its first write, after the data were
// read, with status 1 and the library's message; a dry run passed it. `given_by` names the flag
// or key that gave it.
void check_run_folder(const std::string& folder, const std::string& given_by) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path nearest = fs::absolute(folder, error);  // the folder or the nearest parent that exists
  while (!fs::exists(nearest, error) && nearest.has_relative_path())
    nearest = nearest.parent_path();
  if (fs::exists(nearest, error) && !fs::is_directory(nearest, error)) {
    throw crunet::UserError(given_by + " " + folder + ": the run folder cannot be made, " +
                            nearest.string() + " is a file, not a folder");
  }
}

}  // namespace

int main(int argc, char** argv) {
  // The process group first: under a launcher this joins the MPI job (before anything can fail).
  std::shared_ptr<crunet::dist::ProcessGroup> group;
  CLI::App app{"Train a model from a config", "crunet-train"};
  std::string config_path, resume, output, init;
  std::vector<std::string> overrides, init_keep;
  bool dry_run = false;
  app.add_option("--config", config_path, "training config (YAML)")->required()->check(CLI::ExistingFile);
  app.add_option("--set", overrides, "override a config key: key.path=value (repeatable)");
  app.add_option("--resume", resume, "auto (newest valid checkpoint in the run folder) or a checkpoint path");
  app.add_option("--init", init, "start from these weights (fine-tuning; crunet-convert writes them)")
      ->check(CLI::ExistingFile);
  app.add_option("--init-keep", init_keep,
                 "with --init: tensors whose name starts with this keep their random values "
                 "(repeatable; fc. for a new classifier)")
      ->needs("--init");
  app.add_option("--output", output, "run folder (default: the config's output.dir)");
  app.add_flag("--dry-run", dry_run,
               "check the config, data, lists, model and memory, report, and stop; writes nothing "
               "and runs without the GPU a cuda config names");
  const int status = crunet::tools::run_tool(app, argc, argv, [&] {
    group = crunet::dist::world();
    crunet::train::TrainConfig config = crunet::train::load_train_config(config_path, overrides);
    if (!output.empty()) config.output_dir = output;
    check_run_folder(config.output_dir, output.empty() ? config_path + ": output.dir" : "--output");
    if (!resume.empty() && resume != "auto" && !std::filesystem::is_regular_file(resume)) {
      if (std::filesystem::is_directory(resume)) {  // the run folder, or its checkpoints/
        throw crunet::UserError("--resume " + resume +
                                ": is a folder, not a checkpoint file "
                                "(--resume auto takes the newest checkpoint of the run folder)");
      }
      throw crunet::UserError("--resume " + resume + ": no such checkpoint file");
    }
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    crunet::train::TrainerOptions options;
    options.resume = resume;
    options.init_weights = init;
    options.init_keep = init_keep;
    options.stop_requested = [] { return stop_signal != 0; };
    options.group = group;
    options.dry_run = dry_run;
    crunet::train::Trainer trainer(std::move(config), options);
    if (dry_run) {
      std::cout << "dry run: config, data, class counts and model check out; nothing was trained "
                   "and nothing was written\n";
      return 0;
    }
    const crunet::train::TrainResult result = trainer.run();
    return 0;
  });
  // One process failed (its message is above): the others may be waiting for it in a collective,
  // so stop them all now rather than after train.dist_timeout_s.
  if (status != 0 && group && group->world_size() > 1) {
    group->abort("crunet-train failed with status " + std::to_string(status), status);
  }
  return status;
}
