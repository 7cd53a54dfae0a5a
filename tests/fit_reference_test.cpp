// The whole training path (config -> data -> fit -> exported weights and metrics) against the
// PyTorch trajectories in the shared fixtures: final weights and per-epoch train/eval losses
// and accuracies, for every case and optimizer, and once more split into micro-batches of 16.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/reference_runs.hpp"
#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
#include "trainer/fit.hpp"
#include "trainer/npy.hpp"

using nlohmann::json;
using trainer::test::TempDir;

namespace {

const std::string kTrain = std::string(TRAINER_FIXTURES_DIR) + "/train";

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::vector<double> read_all(const std::string& path) {
  trainer::NpyArray a = trainer::NpyArray::open(path);
  std::vector<double> v(a.header().count);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = a.element(i);
  return v;
}

json optimizer_json(const json& h) {
  const std::string type = h["optimizer"];
  json o = {{"lr", h["lr"]}, {"weight_decay", h["weight_decay"]}};
  if (type == "sgd") {
    o["type"] = "sgd";
    o["momentum"] = h["momentum"];
    o["nesterov"] = h["nesterov"];
  } else {
    o["type"] = type;  // adam (coupled L2 when weight_decay != 0) or adamw
    o["beta1"] = h["beta1"];
    o["beta2"] = h["beta2"];
    o["eps"] = h["eps"];
  }
  return o;
}

// Trains one reference run through trainer::fit and checks it. micro = 0: one micro-batch per step.
void check_run(const std::string& case_name, const std::string& run_name, std::int64_t micro) {
  const std::string dir = kTrain + "/" + case_name;
  const json ref = read_json(dir + "/" + run_name + "/ref.json");
  json layers = json::array();
  for (const auto& l : ref["layers"]) {
    json d = {{"type", "dense"}, {"units", l["out"]}};
    if (l["activation"] != "none") d["activation"] = l["activation"];
    layers.push_back(d);
  }
  const std::int64_t batch = ref["batch_size"];
  json pair = {{"x", dir + "/X.npy"}, {"y", dir + "/y.npy"}};
  json cfg = {{"data", {{"train", pair}, {"validation", pair}, {"shuffle", false}}},
              {"model", {{"layers", layers}, {"loss", ref["loss"]}, {"init_from", dir + "/init"}}},
              {"optimizer", optimizer_json(ref["hyperparameters"])},
              {"training", {{"epochs", ref["epochs"]}, {"batch_size", batch}, {"micro_batch", micro > 0 ? micro : batch},
                            {"seed", 7}, {"threads", 1}}},
              {"memory", {{"ram", "none"}, {"verify", false}}}};
  TempDir tmp;
  trainer::Config config = trainer::load_config_text(cfg.dump(), tmp.file("ref.json"), tmp.path().string());
  trainer::FitOptions options;
  options.metrics_path = tmp.file("metrics.jsonl");
  options.export_dir = tmp.file("weights");
  trainer::FitSummary summary = trainer::fit(config, options);

  const json tol = ref["tolerance"];
  const double w_atol = tol["weight_atol"], w_rtol = tol["weight_rtol"];
  const double l_atol = tol["loss_atol"], l_rtol = tol["loss_rtol"];
  for (const auto& slot : ref["flat_layout"]) {
    const std::string name = slot["name"];
    auto got = read_all(options.export_dir + "/" + name + ".npy");
    auto want = read_all(dir + "/" + run_name + "/final/" + name + ".npy");
    REQUIRE(got.size() == want.size());
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, std::abs(got[i] - want[i]) / (w_atol + w_rtol * std::abs(want[i])));
    }
    INFO(name << ": worst weight error / tolerance = " << worst);
    CHECK(worst <= 1.0);
  }
  const json& epochs = ref["float32"]["epochs"];
  REQUIRE(summary.epochs.size() == epochs.size());
  const std::int64_t n = ref["N"];
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    const auto& m = summary.epochs[e];
    const double tl = epochs[e]["train_loss"], el = epochs[e]["eval_loss"];
    INFO("epoch " << e + 1);
    CHECK(std::abs(m.train_loss - tl) <= l_atol + l_rtol * std::abs(tl));
    REQUIRE(m.val_loss.has_value());
    CHECK(std::abs(*m.val_loss - el) <= l_atol + l_rtol * std::abs(el));
    if (!epochs[e]["train_accuracy"].is_null()) {
      const double ta = epochs[e]["train_accuracy"], ea = epochs[e]["eval_accuracy"];
      const double t_rows = epochs[e]["train_ambiguous_rows"], e_rows = epochs[e]["eval_ambiguous_rows"];
      CHECK(std::abs(*m.train_accuracy - ta) * static_cast<double>(n) <= t_rows + 1e-9);
      CHECK(std::abs(*m.val_accuracy - ea) * static_cast<double>(n) <= e_rows + 1e-9);
    } else {
      CHECK_FALSE(m.train_accuracy.has_value());
    }
  }
  // The metrics file holds the same epochs, one JSON object per line.
  std::ifstream in(options.metrics_path);
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    CHECK(j["train_loss"].get<double>() == summary.epochs[lines].train_loss);
    CHECK(j["batch_size"] == batch);
    ++lines;
  }
  CHECK(lines == epochs.size());
}

}  // namespace

#define REFERENCE_RUN(CASE, RUN) \
  TEST_CASE("fit reproduces PyTorch: " CASE "/" RUN, "[fit][reference]") { check_run(CASE, RUN, 0); }

TRAINER_REFERENCE_RUNS(REFERENCE_RUN)

TEST_CASE("full batch split into micro-batches of 16 gives the full-batch result", "[fit][reference][accumulation]") {
  for (const char* run : {"sgd", "sgd_momentum", "adam", "adamw"}) {
    DYNAMIC_SECTION(run) { check_run("grad_accum_fullbatch", run, 16); }
  }
}

TEST_CASE("a partial-batch run split into micro-batches of 7 matches PyTorch", "[fit][reference][accumulation]") {
  check_run("relu_partial_batch", "adam", 7);
}
