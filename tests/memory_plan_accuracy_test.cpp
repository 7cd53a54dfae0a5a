// The plan of a run against the resident memory of real training steps: for models from
// tiny to 784-2048-2048-10 and micro-batches from 1 to 4096, a forked child runs the trial
// (the run's storage, the prefetcher, two optimizer steps, an evaluation pass) and its
// measured peak of resident anonymous memory must be within 10% of the planned total.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/model.hpp"
#include "trainer/npy_writer.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/run_memory.hpp"
#include "trainer/training_trial.hpp"

using namespace trainer;

namespace {

// x float32 [rows, width] uniform in [0, 1); y uint8 class ids below `classes`.
void write_data(const trainer::test::TempDir& dir, std::int64_t rows, std::int64_t width, int classes) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(rows * width));
  for (auto& v : x) v = u(rng);
  std::vector<std::uint8_t> y(static_cast<std::size_t>(rows));
  for (auto& v : y) v = static_cast<std::uint8_t>(rng() % static_cast<unsigned>(classes));
  const std::vector<std::int64_t> xs{rows, width}, ys{rows};
  write_npy(dir.file("x.npy"), DType::f4, xs, x.data());
  write_npy(dir.file("y.npy"), DType::u1, ys, y.data());
}

std::string config_text(const std::vector<int>& hidden, int classes) {
  std::ostringstream layers;
  for (int units : hidden) layers << R"({"type": "dense", "units": )" << units << R"(, "activation": "relu"}, )";
  layers << R"({"type": "dense", "units": )" << classes << "}";
  return R"({"data": {"train": {"x": "x.npy", "y": "y.npy"}},
             "model": {"layers": [)" + layers.str() + R"(], "loss": "cross_entropy"},
             "optimizer": {"type": "adam", "lr": 0.001},
             "training": {"epochs": 1, "batch_size": "auto", "threads": 0},
             "memory": {"ram": "none"}})";
}

struct Case {
  std::int64_t width;
  std::vector<int> hidden;
  int classes;
  std::vector<std::int64_t> batches;
};

// The plan of a run at micro-batch and evaluation batch `batch` and the trial's measured peak.
struct Measured {
  double predicted = 0, measured = 0;
  bool fits = false;
  std::string text;  // both, the difference, the plan's items and the trial's reason
};

Measured plan_and_measure(const Config& config, const DataSets& data, const Network& net, std::int64_t batch,
                          int threads, std::chrono::seconds timeout) {
  RunShape shape;
  shape.micro_batch = batch;
  shape.eval_batch = batch;
  shape.width = data.width;
  shape.target_kind = TargetKind::class_ids;
  shape.train_rows = data.train.size();
  shape.optimizer_state_per_param = Optimizer(config.optimizer).state_per_param();
  const RuntimeCosts costs = current_runtime_costs(threads, data.train.data->size());
  const MemoryPlan plan = plan_run(net, shape, costs);
  const TrialResult r = training_trial(config, shape, data, std::uint64_t{1} << 40, timeout);
  Measured m;
  m.predicted = static_cast<double>(plan.total());
  m.measured = static_cast<double>(r.peak_anon);
  m.fits = r.fits;
  std::ostringstream text;
  text << "batch " << batch << ", " << threads << " threads: predicted " << plan.total() << ", measured " << r.peak_anon
       << " (" << (m.measured - m.predicted) / m.predicted * 100 << "%), baseline " << costs.baseline << "\n";
  for (const auto& item : plan.items()) text << "  " << item.name << " " << item.bytes << "\n";
  text << r.reason;
  m.text = text.str();
  return m;
}

}  // namespace

TEST_CASE("the plan predicts the measured peak of real training steps within 10%", "[memory][plan-accuracy][real-memory]") {
  const std::vector<Case> cases = {
      {8, {4}, 2, {1, 64, 4096}},
      {64, {128}, 10, {1, 256, 4096}},
      {784, {512, 256}, 10, {16, 1024, 4096}},
      {784, {2048, 2048}, 10, {1, 256}},
  };
  const int threads = set_compute_threads(0);
  for (const auto& c : cases) {
    trainer::test::TempDir dir;
    const std::int64_t rows = 2 * c.batches.back();  // both prefetch slots get filled
    write_data(dir, rows, c.width, c.classes);
    const Config config = load_config_text(config_text(c.hidden, c.classes), dir.file("run.json"), dir.path().string());
    const DataSets data = open_data(config, DataUse::train);
    const Network net(config.model, data.width);
    for (const std::int64_t b : c.batches) {
      const Measured m = plan_and_measure(config, data, net, b, threads, std::chrono::seconds(60));
      INFO("model " << c.width << "-" << c.hidden.front() << (c.hidden.size() > 1 ? "-..." : "") << "-" << c.classes
                    << ", " << m.text);
      REQUIRE(m.fits);
      CHECK(m.measured <= m.predicted * 1.10);
      CHECK(m.measured >= m.predicted * 0.90);
    }
  }
}

namespace {

// x uint8 [rows, h, w, c] (images, channels last), y uint8 class ids below 10.
void write_images(const trainer::test::TempDir& dir, std::int64_t rows, std::int64_t h, std::int64_t w, std::int64_t c) {
  std::mt19937 rng(11);
  std::vector<std::uint8_t> x(static_cast<std::size_t>(rows * h * w * c)), y(static_cast<std::size_t>(rows));
  for (auto& v : x) v = static_cast<std::uint8_t>(rng() % 256);
  for (auto& v : y) v = static_cast<std::uint8_t>(rng() % 10);
  const std::vector<std::int64_t> xs{rows, h, w, c}, ys{rows};
  write_npy(dir.file("x.npy"), DType::u1, xs, x.data());
  write_npy(dir.file("y.npy"), DType::u1, ys, y.data());
}

struct ImageCase {
  const char* name;
  std::int64_t h, w, c;
  const char* layers;
};

}  // namespace

TEST_CASE("the plan of conv models predicts the measured peak within 5% from 1 to 1024 samples",
          "[memory][plan-accuracy][real-memory][image]") {
  // The Fashion-MNIST CNN, the same with batch norm, and a strided conv + batch norm + global
  // pooling model on 3-channel images (large enough that at batch 1 the run's few MiB are not
  // lost in the allocator noise of a test process).
  const std::vector<ImageCase> cases = {
      {"fashion-mnist cnn", 28, 28, 1,
       R"([{"type": "conv2d", "filters": 32, "kernel": 3, "padding": "same", "activation": "relu"},
           {"type": "max_pool2d", "size": 2},
           {"type": "conv2d", "filters": 64, "kernel": 3, "padding": "same", "activation": "relu"},
           {"type": "max_pool2d", "size": 2}, {"type": "flatten"},
           {"type": "dense", "units": 128, "activation": "relu"}, {"type": "dense", "units": 10}])"},
      {"fashion-mnist cnn with batch norm", 28, 28, 1,
       R"([{"type": "conv2d", "filters": 32, "kernel": 3, "padding": "same", "bias": false},
           {"type": "batch_norm", "activation": "relu"}, {"type": "max_pool2d", "size": 2},
           {"type": "conv2d", "filters": 64, "kernel": 3, "padding": "same", "bias": false},
           {"type": "batch_norm", "activation": "relu"}, {"type": "max_pool2d", "size": 2}, {"type": "flatten"},
           {"type": "dense", "units": 128, "activation": "relu"}, {"type": "dense", "units": 10}])"},
      {"strided conv, batch norm, global pooling", 48, 48, 3,
       R"([{"type": "conv2d", "filters": 32, "kernel": 3, "padding": 1, "bias": false},
           {"type": "batch_norm", "activation": "relu"},
           {"type": "conv2d", "filters": 64, "kernel": 3, "stride": 2, "padding": 1, "activation": "relu"},
           {"type": "global_avg_pool"}, {"type": "dense", "units": 10}])"},
  };
  const int threads = set_compute_threads(0);
  for (const ImageCase& c : cases) {
    trainer::test::TempDir dir;
    write_images(dir, 2048, c.h, c.w, c.c);  // both prefetch slots of the largest batch get filled
    const std::string text = std::string(R"({"data": {"train": {"x": "x.npy", "y": "y.npy"}, "x_scale": 0.0039},
             "model": {"layers": )") + c.layers + R"(},
             "optimizer": {"type": "adam", "lr": 0.001},
             "training": {"epochs": 1, "threads": 0}, "memory": {"ram": "none"}})";
    const Config config = load_config_text(text, dir.file("run.json"), dir.path().string());
    const DataSets data = open_data(config, DataUse::train);
    const Network net(config.model, data.input);
    for (const std::int64_t b : {1, 16, 128, 1024}) {
      const Measured m = plan_and_measure(config, data, net, b, threads, std::chrono::seconds(120));
      INFO(c.name << ", " << m.text);
      REQUIRE(m.fits);
      CHECK(m.measured <= m.predicted * 1.05);
      CHECK(m.measured >= m.predicted * 0.95);
    }
  }
}

// Issue 20: per-row items are small next to a large model's buffers, and the 10% above hides
// them. Here a tiny model trains on many rows, so the sample order (8 bytes a row, in the run's
// storage) is a large part of the peak, and the plan must match the measurement closely: an
// item of 8 bytes a row left out shows.
TEST_CASE("with many rows and a tiny model the plan predicts the measured peak within 2%",
          "[memory][plan-accuracy][real-memory]") {
  const std::int64_t rows = 2'000'000;
  trainer::test::TempDir dir;
  write_data(dir, rows, 2, 2);
  const Config config = load_config_text(config_text({4}, 2), dir.file("run.json"), dir.path().string());
  const DataSets data = open_data(config, DataUse::train);
  const Network net(config.model, data.width);
  const Measured m = plan_and_measure(config, data, net, 64, set_compute_threads(0), std::chrono::seconds(60));
  INFO(rows << " rows, " << m.text);
  REQUIRE(m.fits);
  CHECK(m.measured <= m.predicted * 1.02);
  CHECK(m.measured >= m.predicted * 0.98);
}
