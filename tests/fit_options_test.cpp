// fit's loop options through the whole path: early stopping, the learning-rate schedule as
// the metrics show it, and divergence (NaN/Inf loss) stopping with exit code 5.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
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
