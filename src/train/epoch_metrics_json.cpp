#include "trainer/epoch_metrics_json.hpp"

namespace trainer {

nlohmann::json to_json(const EpochMetrics& m) {
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {{"epoch", m.epoch},
          {"train_loss", m.train_loss},
          {"train_accuracy", opt(m.train_accuracy)},
          {"val_loss", opt(m.val_loss)},
          {"val_accuracy", opt(m.val_accuracy)},
          {"lr", m.lr},
          {"seconds", m.seconds},
          {"samples_per_second", m.samples_per_second},
          {"batch_size", m.batch_size},
          {"micro_batch", m.micro_batch}};
}

}  // namespace trainer
