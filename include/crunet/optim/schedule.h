#pragma once
// Learning-rate schedules, evaluated at a fractional epoch (epoch + step / steps_per_epoch), with
// an optional linear warm-up. "plateau" is the paper's: x factor when the validation accuracy has
// not improved for `patience` evaluations.
#include <string>
#include <vector>

namespace crunet::optim {

struct ScheduleOptions {
  std::string type = "cosine";      // constant | step | multistep | cosine | plateau
  double base_lr = 0.1;
  double warmup_epochs = 0;         // linear from warmup_start * base_lr to the schedule's value
  double warmup_start = 0.1;
  double step_epochs = 30;          // step: every step_epochs epochs ...
  double gamma = 0.1;               // ... multiply by gamma (also multistep's and plateau's factor)
  std::vector<double> milestones;   // multistep: epochs at which to multiply by gamma
  double total_epochs = 100;        // cosine: anneals to min_lr at total_epochs
  double min_lr = 0.0;
  int patience = 2;                 // plateau: evaluations without improvement before a drop
  double threshold = 1e-3;          // plateau: improvement smaller than this does not count
};

class LrSchedule {
 public:
  explicit LrSchedule(const ScheduleOptions& options);

  double lr_at(double epoch) const;
  // Feeds a validation accuracy (higher is better) to the plateau schedule; others ignore it.
  // Returns true when the rate was dropped.
  bool observe(double accuracy);

  // The plateau schedule's state, for checkpoints: "factor best bad_evaluations".
  std::string state() const;
  void set_state(const std::string& state);
  const ScheduleOptions& options() const { return options_; }

 private:
  ScheduleOptions options_;
  double plateau_factor_ = 1.0;
  double best_ = -1e300;
  int bad_evaluations_ = 0;
};

}  // namespace crunet::optim
