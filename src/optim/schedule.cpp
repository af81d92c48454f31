#include "crunet/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "crunet/core/error.h"

namespace crunet::optim {

LrSchedule::LrSchedule(const ScheduleOptions& options) : options_(options) {
  const std::string& type = options.type;
  if (type != "constant" && type != "step" && type != "multistep" && type != "cosine" &&
      type != "plateau") {
    throw ValueError("unknown schedule '" + type +
                     "' (known: constant, step, multistep, cosine, plateau)");
  }
  if (!(options.base_lr > 0)) throw ValueError("schedule: base_lr must be positive");
  if (type == "step" && !(options.step_epochs > 0)) {
    throw ValueError("schedule: step_epochs must be positive");
  }
  if (type == "cosine" && !(options.total_epochs > 0)) {
    throw ValueError("schedule: total_epochs must be positive");
  }
}

double LrSchedule::lr_at(double epoch) const {
  const ScheduleOptions& o = options_;
  double lr = o.base_lr;
  if (o.type == "step") {
    lr *= std::pow(o.gamma, std::floor(epoch / o.step_epochs));
  } else if (o.type == "multistep") {
    for (double milestone : o.milestones) {
      if (epoch >= milestone) lr *= o.gamma;
    }
  } else if (o.type == "cosine") {
    const double progress = std::clamp(epoch / o.total_epochs, 0.0, 1.0);
    lr = o.min_lr + (o.base_lr - o.min_lr) * 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
  } else if (o.type == "plateau") {
    lr *= plateau_factor_;
  }
  if (epoch < o.warmup_epochs) {
    const double t = epoch / o.warmup_epochs;
    lr *= o.warmup_start + (1.0 - o.warmup_start) * t;
  }
  return lr;
}

bool LrSchedule::observe(double accuracy) {
  if (options_.type != "plateau") return false;
  if (accuracy > best_ + options_.threshold) {
    best_ = accuracy;
    bad_evaluations_ = 0;
    return false;
  }
  if (++bad_evaluations_ > options_.patience) {
    plateau_factor_ *= options_.gamma;
    bad_evaluations_ = 0;
    return true;
  }
  return false;
}

std::string LrSchedule::state() const {
  std::ostringstream out;
  out.precision(17);
  out << plateau_factor_ << ' ' << best_ << ' ' << bad_evaluations_;
  return out.str();
}

void LrSchedule::set_state(const std::string& state) {
  std::istringstream in(state);
  in >> plateau_factor_ >> best_ >> bad_evaluations_;
  if (!in) throw ValueError("schedule: malformed state '" + state + "'");
}

}  // namespace crunet::optim
