// Learning-rate schedules: constant, step and cosine, after an optional linear warm-up.
#include <cmath>

#include "trainer/optimizer.hpp"

namespace trainer {

double scheduled_lr(const OptimizerConfig& opt, const ScheduleConfig& schedule, std::int64_t epochs,
                    double epoch_progress) {
  const double lr = opt.lr;
  const double p = epoch_progress < 0 ? 0.0 : epoch_progress;
  const double warmup = schedule.warmup_epochs;
  if (warmup > 0 && p < warmup) return lr * p / warmup;
  switch (schedule.type) {
    case ScheduleConfig::Type::constant: return lr;
    case ScheduleConfig::Type::step: {
      const auto every = static_cast<double>(schedule.step_epochs > 0 ? schedule.step_epochs : 1);
      return lr * std::pow(schedule.gamma, std::floor(p / every));
    }
    case ScheduleConfig::Type::cosine: {
      const double span = static_cast<double>(epochs) - warmup;
      const double done = span > 0 ? std::min(1.0, (p - warmup) / span) : 1.0;
      return schedule.min_lr + (lr - schedule.min_lr) * 0.5 * (1.0 + std::cos(M_PI * done));
    }
  }
  return lr;
}

}  // namespace trainer
