// Update rules over flat parameter storage, exactly as torch.optim (1.13) computes them:
// SGD (momentum, Nesterov, coupled weight decay), Adam (coupled L2), AdamW (decoupled decay).
// State (momentum buffer, Adam m and v) lives in caller-owned flat spans parallel to the
// parameters, so the update is one vectorised pass and allocates nothing.
#pragma once

#include <cstdint>
#include <span>

#include "trainer/config.hpp"

namespace trainer {

class Optimizer {
 public:
  explicit Optimizer(const OptimizerConfig& config);

  // Floats of state per parameter: 0 (plain SGD), 1 (momentum), 2 (Adam/AdamW).
  int state_per_param() const;

  // state: state_per_param() * params.size() floats, zero at the start of training.
  void bind_state(std::span<float> state);

  // One update with learning rate `lr` (the schedule's value for this step). Increments
  // steps() first (Adam's t counts from 1). grads: the mean-loss gradient (raw, before decay).
  // REQUIRES: bind_state() with state_per_param() * params.size() floats.
  void step(std::span<float> params, std::span<const float> grads, double lr);

  std::int64_t steps() const { return t_; }
  void set_steps(std::int64_t t) { t_ = t; }  // restoring a checkpoint

 private:
  OptimizerConfig config_;
  std::span<float> state_;
  std::int64_t t_ = 0;
};

// The learning rate at a point of training: epoch (0-based) plus fraction of the epoch done
// before the step, e.g. epoch + step_in_epoch / steps_per_epoch. `epochs` is the run's total.
//   warm-up (warmup_epochs > 0, progress p < warmup): lr * p / warmup, linear from 0;
//   constant: lr;  step: lr * gamma^floor(p / step_epochs), counted from the start of training;
//   cosine: min_lr + (lr - min_lr) * (1 + cos(pi * (p - warmup) / (epochs - warmup))) / 2,
//   reaching min_lr at the end and staying there.
double scheduled_lr(const OptimizerConfig& opt, const ScheduleConfig& schedule, std::int64_t epochs,
                    double epoch_progress);

}  // namespace trainer
