// fit's loop options through the whole path: early stopping, the learning-rate schedule as
// the metrics show it, divergence (NaN/Inf loss) stopping with exit code 5, and a new shuffled
// sample order every epoch.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "support/npy_test_reader_support.hpp"
#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
#include "trainer/dataset.hpp"
#include "trainer/error.hpp"
#include "trainer/fit.hpp"

using nlohmann::json;
using trainer::test::TempDir;

namespace {

const std::string kCase = std::string(TRAINER_FIXTURES_DIR) + "/train/relu_partial_batch";

json base_config() {
  json pair = {{"x", kCase + "/X.npy"}, {"y", kCase + "/y.npy"}};
  return {{"data", {{"train", pair}, {"validation_split", 0.2}}},
          {"model", {{"layers", json::array({{{"type", "dense"}, {"units", 8}, {"activation", "relu"}},
                                             {{"type", "dense"}, {"units", 4}}})},
                     {"loss", "cross_entropy"}}},
          {"optimizer", {{"type", "sgd"}, {"lr", 0.05}}},
          {"training", {{"epochs", 6}, {"batch_size", 22}, {"threads", 1}}},
          {"memory", {{"ram", "none"}}}};
}

trainer::FitSummary run(const json& cfg, const TempDir& tmp) {
  trainer::Config c = trainer::load_config_text(cfg.dump(), tmp.file("run.json"), tmp.path().string());
  return trainer::fit(c, {});
}

}  // namespace

TEST_CASE("early stopping ends training after `patience` epochs without improvement", "[fit]") {
  TempDir tmp;
  json cfg = base_config();
  cfg["optimizer"]["lr"] = 1e-9;  // nothing improves after the first epoch
  cfg["training"]["epochs"] = 50;
  cfg["training"]["early_stopping"] = {{"monitor", "val_loss"}, {"patience", 2}, {"min_delta", 1e-3}};
  trainer::FitSummary s = run(cfg, tmp);
  CHECK(s.early_stopped);
  CHECK(s.epochs.size() == 4);  // best at epoch 1, then patience 2 exceeded at epoch 4

  cfg["optimizer"]["lr"] = 0.05;
  cfg["training"]["epochs"] = 5;
  cfg["training"]["early_stopping"] = {{"monitor", "val_loss"}, {"patience", 10}};
  trainer::FitSummary full = run(cfg, tmp);
  CHECK_FALSE(full.early_stopped);
  CHECK(full.epochs.size() == 5);
}

TEST_CASE("the learning-rate schedule drives the updates and shows in the metrics", "[fit]") {
  TempDir tmp;
  json cfg = base_config();
  cfg["schedule"] = {{"type", "step"}, {"step_epochs", 2}, {"gamma", 0.5}};
  trainer::FitSummary s = run(cfg, tmp);
  REQUIRE(s.epochs.size() == 6);
  CHECK(s.epochs[0].lr == Approx(0.05));
  CHECK(s.epochs[1].lr == Approx(0.05));
  CHECK(s.epochs[2].lr == Approx(0.025));
  CHECK(s.epochs[5].lr == Approx(0.0125));

  cfg["schedule"] = {{"type", "cosine"}, {"warmup_epochs", 1}};
  trainer::FitSummary c = run(cfg, tmp);
  for (std::size_t e = 2; e < c.epochs.size(); ++e) CHECK(c.epochs[e].lr < c.epochs[e - 1].lr);
}

TEST_CASE("a diverging run stops with exit code 5 naming the epoch and step and the lr key", "[fit]") {
  TempDir tmp;
  json cfg = base_config();
  cfg["optimizer"]["lr"] = 1e30;
  try {
    run(cfg, tmp);
    FAIL("expected divergence");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 5);
    CHECK_THAT(e.what(), Catch::Contains("epoch") && Catch::Contains("step") && Catch::Contains("/optimizer/lr"));
  }
}

TEST_CASE("without the epoch history a run keeps only its last epoch's metrics", "[fit]") {
  // What keeps a long run's memory flat after epoch 1 when neither --json nor --report asks for
  // every epoch (scripts/soak.sh). The weights do not depend on it.
  TempDir tmp;
  json cfg = base_config();
  cfg["training"]["epochs"] = 7;
  trainer::Config c = trainer::load_config_text(cfg.dump(), tmp.file("run.json"), tmp.path().string());
  trainer::FitOptions all, last;
  last.keep_epoch_history = false;
  all.export_dir = tmp.file("all");
  last.export_dir = tmp.file("last");
  const trainer::FitSummary with = trainer::fit(c, all);
  const trainer::FitSummary without = trainer::fit(c, last);
  REQUIRE(with.epochs.size() == 7);
  REQUIRE(without.epochs.size() == 1);
  CHECK(without.epochs[0].epoch == 7);
  CHECK(without.epochs[0].train_loss == with.epochs[6].train_loss);
  CHECK(without.epochs[0].val_loss == with.epochs[6].val_loss);
}

TEST_CASE("a shuffled fit trains each epoch in its own order: epoch_order(seed, epoch)", "[fit]") {
  // Three shuffled epochs must make the same steps as one unshuffled epoch over a file holding
  // the rows in epoch 0's order, then epoch 1's, then epoch 2's. A loop that reuses one order
  // (or the wrong epoch's) trains on other batches and ends with other weights. The data
  // layer's own tests cannot see this: they never run fit.
  TempDir tmp;
  const auto x = test_npy::read(kCase + "/X.npy");
  const auto y = test_npy::read(kCase + "/y.npy");
  const std::int64_t n = x.shape[0], width = x.shape[1];
  const std::uint64_t seed = 5;
  const std::int64_t epochs = 3;
  std::vector<float> x_epochs;
  std::vector<std::int64_t> y_epochs;
  for (std::int64_t e = 0; e < epochs; ++e) {
    const auto order = trainer::epoch_order(n, seed, static_cast<std::uint64_t>(e), true);
    REQUIRE(order != trainer::epoch_order(n, seed, static_cast<std::uint64_t>(e + 1), true));
    for (std::int64_t r : order) {
      for (std::int64_t j = 0; j < width; ++j) x_epochs.push_back(static_cast<float>(x.values[static_cast<std::size_t>(r * width + j)]));
      y_epochs.push_back(static_cast<std::int64_t>(y.values[static_cast<std::size_t>(r)]));
    }
  }
  // A batch that divides the rows: no batch straddles two epochs of the written file.
  const std::int64_t batch = 22;
  REQUIRE(n % batch == 0);
  auto config_json = [&](const std::string& x_path, const std::string& y_path, bool shuffle, std::int64_t e) {
    json cfg = base_config();
    cfg["data"] = {{"train", {{"x", x_path}, {"y", y_path}}}, {"shuffle", shuffle}};
    cfg["training"] = {{"epochs", e}, {"batch_size", batch}, {"seed", seed}, {"threads", 1}};
    return cfg;
  };
  const std::string x_path = tmp.file("x_epochs.npy"), y_path = tmp.file("y_epochs.npy");
  trainer::test::write_npy(x_path, "<f4", {epochs * n, width}, x_epochs.data(), x_epochs.size() * sizeof(float));
  trainer::test::write_npy(y_path, "<i8", {epochs * n}, y_epochs.data(), y_epochs.size() * sizeof(std::int64_t));

  // Only the sample order differs between the two runs: both keep the file's column order.
  auto train = [&](const json& cfg, const std::string& name) {
    trainer::Config c = trainer::load_config_text(cfg.dump(), tmp.file(name + ".json"), tmp.path().string());
    trainer::FitOptions options;
    options.export_dir = tmp.file(name);
    options.reorder_input_columns = false;
    trainer::fit(c, options);
  };
  train(config_json(kCase + "/X.npy", kCase + "/y.npy", true, epochs), "shuffled");
  train(config_json(x_path, y_path, false, 1), "written");
  for (const char* name : {"dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"}) {
    const auto shuffled = test_npy::read(tmp.file(std::string("shuffled/") + name + ".npy")).values;
    const auto written = test_npy::read(tmp.file(std::string("written/") + name + ".npy")).values;
    REQUIRE(shuffled.size() == written.size());
    double worst = 0;
    for (std::size_t i = 0; i < shuffled.size(); ++i) worst = std::max(worst, std::abs(shuffled[i] - written[i]));
    INFO(name << ": largest difference " << worst);
    CHECK(worst <= 1e-6);
  }
}
