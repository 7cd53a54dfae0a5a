// Turning epoch records into chart series: train and validation side by side, gaps for nulls.
#include "metric_charts.hpp"

#include <algorithm>

namespace trainer::report_charts {
namespace {

using Field = std::optional<double> (*)(const EpochRecord&);

svg::Series series(const std::vector<EpochRecord>& epochs, std::string key, std::string label,
                   svg::SeriesStyle style, Field field) {
  svg::Series s{std::move(key), std::move(label), style, {}, {}};
  for (const EpochRecord& e : epochs) {
    s.x.push_back(static_cast<double>(e.epoch));
    s.y.push_back(field(e));
  }
  return s;
}

bool any_value(const svg::Series& s) {
  return std::any_of(s.y.begin(), s.y.end(), [](const std::optional<double>& v) { return v.has_value(); });
}

// Train first, then validation only when the run had one, so the legend never lists an
// empty series.
svg::LineChart pair_chart(const std::vector<EpochRecord>& epochs, std::string title, std::string y_label,
                          std::string stem, Field train, Field validation) {
  svg::LineChart c;
  c.title = std::move(title);
  c.x_label = "epoch";
  c.y_label = std::move(y_label);
  svg::Series t = series(epochs, "train_" + stem, "train", svg::kTrainStyle, train);
  svg::Series v = series(epochs, "val_" + stem, "validation", svg::kValidationStyle, validation);
  if (any_value(t)) c.series.push_back(std::move(t));
  if (any_value(v)) c.series.push_back(std::move(v));
  return c;
}

// One series, with the y axis from zero up (learning rate, throughput).
svg::LineChart single_chart(const std::vector<EpochRecord>& epochs, std::string title, std::string y_label,
                            std::string key, std::string label, svg::SeriesStyle style, Field field) {
  svg::LineChart c;
  c.title = std::move(title);
  c.x_label = "epoch";
  c.y_label = std::move(y_label);
  c.include_zero = true;
  c.series.push_back(series(epochs, std::move(key), std::move(label), style, field));
  return c;
}

}  // namespace

svg::LineChart loss(const std::vector<EpochRecord>& epochs) {
  return pair_chart(
      epochs, "Loss", "loss", "loss", [](const EpochRecord& e) -> std::optional<double> { return e.train_loss; },
      [](const EpochRecord& e) { return e.val_loss; });
}

std::optional<svg::LineChart> accuracy(const std::vector<EpochRecord>& epochs) {
  svg::LineChart c = pair_chart(
      epochs, "Accuracy", "accuracy", "accuracy", [](const EpochRecord& e) { return e.train_accuracy; },
      [](const EpochRecord& e) { return e.val_accuracy; });
  if (c.series.empty()) return std::nullopt;
  return c;
}

svg::LineChart learning_rate(const std::vector<EpochRecord>& epochs) {
  return single_chart(epochs, "Learning rate", "learning rate", "lr", "learning rate", svg::kLrStyle,
                      [](const EpochRecord& e) -> std::optional<double> { return e.lr; });
}

svg::LineChart throughput(const std::vector<EpochRecord>& epochs) {
  return single_chart(epochs, "Throughput", "samples/s", "samples_per_second", "training samples/s",
                      svg::kThroughputStyle,
                      [](const EpochRecord& e) -> std::optional<double> { return e.samples_per_second; });
}

}  // namespace trainer::report_charts
