// The memory search's choices when a trial fails: the micro-batch shrinks, and the evaluation
// batch with it, but never below what evaluation needs next to training.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
#include "trainer/error.hpp"
#include "trainer/memory_search.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"

using namespace trainer;

namespace {

constexpr std::int64_t kWidth = 784;
constexpr std::int64_t kTrainRows = 18000;
constexpr std::int64_t kEvalRows = 2000;

Config mlp_config(const trainer::test::TempDir& dir) {
  return load_config_text(R"({"data": {"train": {"x": "x.npy", "y": "y.npy"}},
      "model": {"layers": [{"type": "dense", "units": 256, "activation": "relu"}, {"type": "dense", "units": 10}],
                "loss": "cross_entropy"},
      "optimizer": {"type": "adam", "lr": 0.001},
      "training": {"epochs": 1, "batch_size": "auto", "threads": 1},
      "memory": {"ram": "64M"}})",
                          dir.file("run.json"), dir.path().string());
}

RunShape shape_of(const Config& config) {
  RunShape shape;
  shape.width = kWidth;
  shape.target_kind = TargetKind::class_ids;
  shape.train_rows = kTrainRows;
  shape.optimizer_state_per_param = Optimizer(config.optimizer).state_per_param();
  return shape;
}

}  // namespace

// A first trial that fails used to shrink the evaluation batch by a fifth as well, below the
// micro-batch: 1600 evaluation rows next to 3311 training rows, where 2000 fit easily.
TEST_CASE("after a failed trial the evaluation batch stays at least the micro-batch", "[memory][search][real-memory]") {
  trainer::test::TempDir dir;
  const Config config = mlp_config(dir);
  const Network net(config.model, kWidth);
  set_compute_threads(1);
  const BatchSearch planned = search_batches(config, net, shape_of(config), kTrainRows, kEvalRows);
  REQUIRE(planned.choice.micro > kEvalRows);  // so that a shrunk evaluation batch could fall below both
  CHECK(planned.choice.eval >= kEvalRows);

  // The trial refuses the plan's first choice, as a sanitized allocator's larger peak does.
  const std::int64_t refused_above = planned.choice.micro * 9 / 10;
  const TrialSteps trial = [refused_above](const RunShape& s) {
    if (s.micro_batch > refused_above) throw Error::budget("trial", "refused by the test");
  };
  const BatchSearch s = search_batches(config, net, shape_of(config), kTrainRows, kEvalRows, 0, trial);
  INFO("planned micro " << planned.choice.micro << ", chosen micro " << s.choice.micro << ", eval " << s.choice.eval);
  REQUIRE(s.trials.size() == 2);
  CHECK_FALSE(s.trials[0].fits);
  CHECK(s.trials[1].fits);
  CHECK(s.choice.micro <= refused_above);
  CHECK(s.choice.eval >= std::min(s.choice.micro, kEvalRows));
}
