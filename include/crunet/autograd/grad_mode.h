#pragma once

namespace crunet {

// Whether ops record autograd nodes on this thread (true by default).
bool grad_enabled();
void set_grad_enabled(bool enabled);

// Turns recording off for its lifetime, as torch.no_grad(): for evaluation and optimiser updates.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace crunet
