// Evaluation is the dropout-free model wherever a user sees it: fit's validation and test
// metrics, `trainer evaluate` and `trainer predict` all equal a forward pass without dropout,
// computed here in double from the exported weights.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "support/npy_test_reader_support.hpp"
#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
#include "trainer/fit.hpp"

using nlohmann::json;
using trainer::test::run_command;
using trainer::test::TempDir;

namespace {

const std::string kCase = std::string(TRAINER_FIXTURES_DIR) + "/train/relu_partial_batch";

// What the metrics of a model must be on (x, labels): the mean cross-entropy, the accuracy, the
// softmax outputs, and how many rows have two top logits too close to rank in float32.
struct Expected {
  double loss = 0, accuracy = 0;
  std::int64_t ambiguous_rows = 0;
  std::vector<double> probabilities;  // [rows, classes]
};

// relu hidden layers, a linear last layer, softmax cross-entropy; the weights of dense<i> in
// `folder` in PyTorch's Linear layout. No dropout: at evaluation it is the identity.
Expected forward_without_dropout(const std::string& folder, int dense_layers, const test_npy::Array& x,
                                 const std::vector<std::int32_t>& labels) {
  const auto rows = static_cast<std::size_t>(x.shape[0]);
  std::vector<double> a = x.values;
  std::size_t width = static_cast<std::size_t>(x.shape[1]);
  for (int l = 0; l < dense_layers; ++l) {
    const auto w = test_npy::read(folder + "/dense" + std::to_string(l) + ".weight.npy");
    const auto b = test_npy::read(folder + "/dense" + std::to_string(l) + ".bias.npy");
    const auto out = static_cast<std::size_t>(w.shape[0]);
    REQUIRE(static_cast<std::size_t>(w.shape[1]) == width);
    std::vector<double> z(rows * out);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t o = 0; o < out; ++o) {
        double v = b.values[o];
        for (std::size_t i = 0; i < width; ++i) v += a[r * width + i] * w.values[o * width + i];
        z[r * out + o] = l + 1 < dense_layers ? std::max(v, 0.0) : v;
      }
    }
    a = std::move(z);
    width = out;
  }
  Expected e;
  e.probabilities.resize(a.size());
  for (std::size_t r = 0; r < rows; ++r) {
    const double* z = &a[r * width];
    const double top = *std::max_element(z, z + width);
    double sum = 0;
    for (std::size_t j = 0; j < width; ++j) sum += std::exp(z[j] - top);
    for (std::size_t j = 0; j < width; ++j) e.probabilities[r * width + j] = std::exp(z[j] - top) / sum;
    const auto y = static_cast<std::size_t>(labels[r]);
    e.loss += std::log(sum) + top - z[y];
    std::size_t others_above = 0, close = 0;
    for (std::size_t j = 0; j < width; ++j) {
      if (j == y) continue;
      others_above += z[j] > z[y];
      close += std::abs(z[j] - z[y]) < 1e-5;
    }
    e.accuracy += others_above == 0;
    e.ambiguous_rows += close > 0;
  }
  e.loss /= static_cast<double>(rows);
  e.accuracy /= static_cast<double>(rows);
  return e;
}

void check_metrics(const char* what, double loss, double accuracy, const Expected& e, std::size_t rows) {
  INFO(what << ": loss " << loss << " (dropout-free " << e.loss << "), accuracy " << accuracy << " ("
            << e.accuracy << ")");
  CHECK(std::abs(loss - e.loss) <= 1e-5 * std::max(1.0, e.loss));
  CHECK(std::abs(accuracy - e.accuracy) * static_cast<double>(rows) <= static_cast<double>(e.ambiguous_rows) + 1e-9);
}

}  // namespace

TEST_CASE("validation, test, evaluate and predict use the model without dropout", "[fit][cli]") {
  // Dropout after hidden layers, where it would act on the evaluation buffers (a dropout layer
  // first acts on the inputs instead), at a rate that changes every metric a lot if applied.
  TempDir tmp;
  const json pair = {{"x", kCase + "/X.npy"}, {"y", kCase + "/y.npy"}};
  const json cfg = {
      {"data", {{"train", pair}, {"validation", pair}, {"test", pair}}},
      {"model", {{"layers", json::array({{{"type", "dense"}, {"units", 16}, {"activation", "relu"}},
                                         {{"type", "dropout"}, {"rate", 0.5}},
                                         {{"type", "dense"}, {"units", 12}, {"activation", "relu"}},
                                         {{"type", "dropout"}, {"rate", 0.5}},
                                         {{"type", "dense"}, {"units", 4}}})},
                 {"loss", "cross_entropy"}}},
      {"optimizer", {{"type", "adam"}, {"lr", 0.01}}},
      {"training", {{"epochs", 2}, {"batch_size", 16}, {"seed", 4}, {"threads", 1}}},
      {"memory", {{"ram", "none"}}}};
  const std::string config_path = tmp.file("run.json");
  trainer::test::write_text(config_path, cfg.dump());
  trainer::Config config = trainer::load_config_text(cfg.dump(), config_path, tmp.path().string());
  trainer::FitOptions options;
  options.export_dir = tmp.file("weights");
  options.checkpoint_path = tmp.file("run.ckpt");
  const trainer::FitSummary summary = trainer::fit(config, options);

  const auto x = test_npy::read(kCase + "/X.npy");
  const auto labels = test_npy::read(kCase + "/y.npy").as_int32();
  const Expected e = forward_without_dropout(options.export_dir, 3, x, labels);
  const std::size_t rows = labels.size();
  // The last epoch's validation ran on the final (exported) weights.
  REQUIRE(summary.epochs.size() == 2);
  check_metrics("validation", summary.epochs.back().val_loss.value(), summary.epochs.back().val_accuracy.value(), e, rows);
  check_metrics("test", summary.test_loss.value(), summary.test_accuracy.value(), e, rows);

  const auto ev = run_command(std::string(TRAINER_BINARY) + " evaluate --json --config " + config_path + " --weights " +
                                  options.checkpoint_path,
                              false);
  INFO(ev.out);
  REQUIRE(ev.exit_code == 0);
  const json r = json::parse(ev.out);
  check_metrics("trainer evaluate", r["loss"].get<double>(), r["accuracy"].get<double>(), e, rows);

  const std::string out = tmp.file("p.npy");
  const auto pr = run_command(std::string(TRAINER_BINARY) + " predict --weights " + options.checkpoint_path + " --input " +
                              kCase + "/X.npy --output " + out);
  INFO(pr.out);
  REQUIRE(pr.exit_code == 0);
  const auto p = test_npy::read(out);
  REQUIRE(p.values.size() == e.probabilities.size());
  double worst = 0;
  for (std::size_t i = 0; i < p.values.size(); ++i) worst = std::max(worst, std::abs(p.values[i] - e.probabilities[i]));
  INFO("trainer predict: largest difference from the dropout-free probabilities " << worst);
  CHECK(worst <= 1e-5);
}
