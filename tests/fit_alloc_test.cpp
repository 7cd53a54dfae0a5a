// The training loop allocates nothing per step: a whole fit over four times as many steps
// (same epochs, same model, same outputs) makes exactly as many heap allocations. That covers
// the prefetch thread, gradient accumulation, the optimizer, evaluation and the epoch loop.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "support/alloc_counter_support.hpp"
#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
#include "trainer/fit.hpp"

using nlohmann::json;

namespace {

std::int64_t allocations_of_fit(std::int64_t rows, const trainer::test::TempDir& tmp) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<std::size_t>(rows * 20));
  std::vector<std::int64_t> y(static_cast<std::size_t>(rows));
  for (auto& v : x) v = normal(rng);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<std::int64_t>(i % 3);
  const std::string tag = std::to_string(rows);
  const std::string xp = tmp.file("x" + tag + ".npy");
  const std::string yp = tmp.file("y" + tag + ".npy");
  trainer::test::write_npy(xp, "<f4", {rows, 20}, x.data(), x.size() * 4);
  trainer::test::write_npy(yp, "<i8", {rows}, y.data(), y.size() * 8);
  json pair = {{"x", xp}, {"y", yp}};
  // The same validation rows in every run: the batch search's planning (which allocates) then
  // does the same work, and only the steps differ.
  const std::string vx = tmp.file("vx.npy"), vy = tmp.file("vy.npy");
  trainer::test::write_npy(vx, "<f4", {400, 20}, x.data(), 400 * 20 * 4);
  trainer::test::write_npy(vy, "<i8", {400}, y.data(), 400 * 8);
  json cfg = {{"data", {{"train", pair}, {"validation", {{"x", vx}, {"y", vy}}}, {"shuffle", true}}},
              {"model", {{"layers", json::array({{{"type", "dense"}, {"units", 32}, {"activation", "relu"}},
                                                 {{"type", "dropout"}, {"rate", 0.1}},
                                                 {{"type", "dense"}, {"units", 3}}})},
                         {"loss", "cross_entropy"}}},
              {"optimizer", {{"type", "adam"}, {"lr", 0.001}}},
              {"training", {{"epochs", 3}, {"batch_size", 40}, {"micro_batch", 16}, {"threads", 2}}},
              {"memory", {{"ram", "none"}, {"verify", false}}}};
  trainer::Config config = trainer::load_config_text(cfg.dump(), tmp.file("c" + tag + ".json"), tmp.path().string());
  trainer::FitOptions options;
  options.metrics_path = tmp.file("m" + tag + ".jsonl");
  alloc_counter::start();
  trainer::FitSummary s = trainer::fit(config, options);
  const std::int64_t count = alloc_counter::stop();
  REQUIRE(s.optimizer_steps == 3 * ((rows + 39) / 40));
  return count;
}

}  // namespace

TEST_CASE("fit makes no heap allocation per step: 4x the steps, the same allocations", "[fit][alloc][real-memory]") {
  if (!alloc_counter::available()) {
    WARN("allocation counting is unavailable in this build (sanitizers own malloc): test skipped");
    return;
  }
  trainer::test::TempDir tmp;
  allocations_of_fit(400, tmp);  // warm-up: compute pool workers, logger, caches
  const std::int64_t small = allocations_of_fit(400, tmp);
  const std::int64_t large = allocations_of_fit(1600, tmp);
  INFO("allocations: " << small << " for 30 steps, " << large << " for 120 steps");
  CHECK(large == small);
}
