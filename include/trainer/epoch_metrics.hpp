// One epoch of training as fit logs it, --metrics writes it and the report draws it.
#pragma once

#include <cstdint>
#include <optional>

namespace trainer {

struct EpochMetrics {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0;   // sample-weighted mean of the batch losses of the epoch
  std::optional<double> train_accuracy;  // absent for regression
  std::optional<double> val_loss;        // absent without validation data
  std::optional<double> val_accuracy;
  double lr = 0;
  double seconds = 0;
  double samples_per_second = 0;
  std::int64_t batch_size = 0;
  std::int64_t micro_batch = 0;
};

}  // namespace trainer
