// Data-parallel training under mpirun (docs/distributed.md): K ranks give the single-process
// weights and metrics, rank 0 writes the outputs, and a failing or killed rank ends the job.
// Skipped, with a visible warning, where mpirun cannot start (or the build has no MPI).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/npy_test_reader_support.hpp"
#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"
#include "trainer/distributed.hpp"

using trainer::test::run_command;
using trainer::test::TempDir;

namespace {

const std::string kBin = TRAINER_BINARY;
const std::string kCase = std::string(TRAINER_FIXTURES_DIR) + "/train/relu_partial_batch";  // 110 rows, 17 features
#if defined(TRAINER_SANITIZED)
// Open MPI allocates in its dlopen'ed components and never frees; after MPI_Finalize unloads
// them, LeakSanitizer cannot name (or suppress) those frames. The ranks run without the leak
// check; the same code runs leak-checked in every single-process test.
#define TRAINER_MPIRUN_ENV "-x ASAN_OPTIONS=detect_leaks=0 "
#else
#define TRAINER_MPIRUN_ENV ""
#endif
const std::string kMpirun = "timeout -s KILL 60 mpirun --allow-run-as-root --oversubscribe " TRAINER_MPIRUN_ENV;

// Whether mpirun can start ranks of this build here; warns visibly when it cannot.
bool mpi_usable() {
#ifndef TRAINER_HAVE_MPI
  WARN("skipped: trainer was built without MPI (TRAINER_MPI off or libopenmpi-dev missing)");
  return false;
#else
  static const int rc = run_command("timeout 30 mpirun --allow-run-as-root --oversubscribe -np 2 true").exit_code;
  if (rc != 0) WARN("skipped: mpirun cannot start 2 processes here (exit " << rc << ")");
  return rc == 0;
#endif
}

// A config over the fixture; `extra_data` goes into "data", `batch` is the effective batch.
std::string write_config(const TempDir& dir, const std::string& batch, const std::string& extra_data = "") {
  const std::string path = dir.file("run.json");
  trainer::test::write_text(
      path, R"({"data": {"train": {"x": ")" + kCase + R"(/X.npy", "y": ")" + kCase + R"(/y.npy"}, "shuffle": true)" +
                extra_data + R"(},
  "model": {"layers": [{"type": "dense", "units": 9, "activation": "relu"}, {"type": "dense", "units": 5, "activation": "relu"},
                       {"type": "dense", "units": 4}], "loss": "cross_entropy", "init_from": ")" + kCase + R"(/init"},
  "optimizer": {"type": "adam", "lr": 0.02},
  "training": {"epochs": 3, "batch_size": )" + batch + R"(, "seed": 7, "threads": 1},
  "memory": {"ram": "none"}})");
  return path;
}

std::string fit_cmd(const std::string& config, const std::string& args) {
  return kBin + " fit --config " + config + " " + args;
}

// Every exported array of `got` equals `want` to float32 tolerance.
void check_same_weights(const std::string& want, const std::string& got) {
  for (int layer = 0; layer < 3; ++layer) {
    for (const char* part : {"weight", "bias"}) {
      const std::string name = "/dense" + std::to_string(layer) + "." + part + ".npy";
      const auto a = test_npy::read(want + name), b = test_npy::read(got + name);
      REQUIRE(a.shape == b.shape);
      for (std::size_t i = 0; i < a.values.size(); ++i) {
        INFO(got << name << " [" << i << "]: " << b.values[i] << " vs single process " << a.values[i]);
        REQUIRE(std::fabs(a.values[i] - b.values[i]) <= 1e-5 + 1e-4 * std::fabs(a.values[i]));
      }
    }
  }
}

}  // namespace

TEST_CASE("mpi: each rank gets a contiguous part of every batch, sizes within 1", "[mpi]") {
  for (std::int64_t batch : {1, 2, 7, 20, 21}) {
    for (int ranks : {1, 2, 3, 4}) {
      std::int64_t next = 0, smallest = batch, largest = 0;
      for (int r = 0; r < ranks; ++r) {
        const trainer::Part p = trainer::part_of(batch, r, ranks);
        CHECK(p.begin == next);
        next = p.begin + p.count;
        smallest = std::min(smallest, p.count);
        largest = std::max(largest, p.count);
      }
      INFO("batch " << batch << ", ranks " << ranks);
      CHECK(next == batch);
      CHECK(largest - smallest <= 1);
    }
  }
}

TEST_CASE("mpi: 2 and 3 ranks train the single-process weights", "[mpi]") {
  if (!mpi_usable()) return;
  TempDir dir;
  // batch 20: the last batch of 10 splits 5/5 and 4/3/3; batch 4: its last batch of 2 leaves
  // rank 2 of 3 an empty part; --micro-batch 3 makes ranks accumulate within their part.
  for (const std::string batch : {"20", "4"}) {
    const std::string config = write_config(dir, batch);
    const std::string single = dir.file("single" + batch), two = dir.file("two" + batch), three = dir.file("three" + batch);
    auto r1 = run_command(fit_cmd(config, "--export-weights " + single));
    REQUIRE(r1.exit_code == 0);
    auto r2 = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--export-weights " + two));
    INFO(r2.out);
    REQUIRE(r2.exit_code == 0);
    auto r3 = run_command(kMpirun + "-np 3 " + fit_cmd(config, "--micro-batch 3 --export-weights " + three));
    INFO(r3.out);
    REQUIRE(r3.exit_code == 0);
    check_same_weights(single, two);
    check_same_weights(single, three);
  }
}

TEST_CASE("mpi: training, validation and test metrics are reduced over the ranks", "[mpi]") {
  if (!mpi_usable()) return;
  TempDir dir;
  const std::string config =
      write_config(dir, "16", R"(, "validation_split": 0.25, "test": {"x": ")" + kCase + R"(/X.npy", "y": ")" + kCase + R"(/y.npy"})");
  auto one = run_command(fit_cmd(config, "--json --quiet"), false);
  auto two = run_command(kMpirun + "-np 3 " + fit_cmd(config, "--json --quiet --metrics " + dir.file("m.jsonl")), false);
  REQUIRE(one.exit_code == 0);
  REQUIRE(two.exit_code == 0);
  const auto a = nlohmann::json::parse(one.out), b = nlohmann::json::parse(two.out);  // rank 0 alone prints
  auto near = [](double x, double y) { return std::fabs(x - y) <= 1e-5 + 1e-4 * std::fabs(x); };
  CHECK(near(a["test_loss"], b["test_loss"]));
  CHECK(a["test_accuracy"] == b["test_accuracy"]);
  REQUIRE(b["epochs"].size() == 3);
  for (std::size_t e = 0; e < 3; ++e) {
    CHECK(near(a["epochs"][e]["train_loss"], b["epochs"][e]["train_loss"]));
    CHECK(a["epochs"][e]["train_accuracy"] == b["epochs"][e]["train_accuracy"]);
    CHECK(near(a["epochs"][e]["val_loss"], b["epochs"][e]["val_loss"]));
    CHECK(a["epochs"][e]["val_accuracy"] == b["epochs"][e]["val_accuracy"]);
  }
  // One metrics file, written once: rank 0's three lines, not three ranks' nine.
  const std::string metrics = trainer::test::read_text(dir.file("m.jsonl"));
  CHECK(std::count(metrics.begin(), metrics.end(), '\n') == 3);
}

TEST_CASE("mpi: resume with the same number of ranks continues the run", "[mpi]") {
  if (!mpi_usable()) return;
  TempDir dir;
  const std::string config = write_config(dir, "20");
  auto whole = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--export-weights " + dir.file("whole")));
  REQUIRE(whole.exit_code == 0);
  auto first = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--epochs 1 --checkpoint " + dir.file("run.ckpt")));
  INFO(first.out);
  REQUIRE(first.exit_code == 0);
  auto rest = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--resume " + dir.file("run.ckpt") + " --export-weights " +
                                                                   dir.file("resumed")));
  INFO(rest.out);
  REQUIRE(rest.exit_code == 0);
  check_same_weights(dir.file("whole"), dir.file("resumed"));
}

TEST_CASE("mpi: ranks that would build different input orders all train in rank 0's", "[mpi]") {
  if (!mpi_usable()) return;
  TempDir dir;
  // 4-column chunks 0, 2, 4, ... zero together in even rows: a single process (micro-batch 31)
  // trains in a built column order. On 2 ranks the parts are 16 and 15 rows, and a 15-deep weight
  // gradient does not run on the packed kernel, so rank 1 alone would keep the file's order and
  // the summed gradients would mix the two layouts.
  const std::int64_t rows = 310, width = 64;
  std::vector<float> x(static_cast<std::size_t>(rows * width));
  std::vector<std::int32_t> y(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    y[static_cast<std::size_t>(r)] = static_cast<std::int32_t>((r * 7) % 3);
    for (std::int64_t c = 0; c < width; ++c)
      x[static_cast<std::size_t>(r * width + c)] =
          (r % 2 == 0 && (c / 4) % 2 == 0) ? 0.0f : 0.1f + static_cast<float>((r * 31 + c * 17) % 89) / 100.0f;
  }
  const std::string xs = trainer::test::write_npy("mpi_order_x.npy", "<f4", {rows, width}, x);
  const std::string ys = trainer::test::write_npy("mpi_order_y.npy", "<i4", {rows}, y);
  const std::string config = dir.file("order.json");
  trainer::test::write_text(config, R"({"data": {"train": {"x": ")" + xs + R"(", "y": ")" + ys + R"("}},
  "model": {"layers": [{"type": "dense", "units": 32, "activation": "relu"}, {"type": "dense", "units": 3}],
            "loss": "cross_entropy"},
  "optimizer": {"type": "adam", "lr": 0.01},
  "training": {"epochs": 2, "batch_size": 31, "seed": 3, "threads": 1},
  "memory": {"ram": "none"}})");
  auto single = run_command(fit_cmd(config, "--export-weights " + dir.file("single")));
  INFO(single.out);
  REQUIRE(single.exit_code == 0);
  if (single.out.find("input columns reordered") == std::string::npos) {
    WARN("skipped: no input column order here (no AVX-512)");
    return;
  }
  auto two = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--export-weights " + dir.file("two")));
  INFO(two.out);
  REQUIRE(two.exit_code == 0);
  for (const char* name : {"/dense0.weight.npy", "/dense0.bias.npy", "/dense1.weight.npy", "/dense1.bias.npy"}) {
    const auto a = test_npy::read(dir.file("single") + name), b = test_npy::read(dir.file("two") + name);
    REQUIRE(a.values.size() == b.values.size());
    for (std::size_t i = 0; i < a.values.size(); ++i) {
      INFO(name << " [" << i << "]");
      REQUIRE(std::fabs(a.values[i] - b.values[i]) <= 1e-5 + 1e-4 * std::fabs(a.values[i]));
    }
  }
}

TEST_CASE("mpi: probe-batch reports every rank's budget and batch", "[mpi]") {
  if (!mpi_usable()) return;
  TempDir dir;
  const std::string config = write_config(dir, "20");
  auto r = run_command(kMpirun + "-np 2 " + kBin + " probe-batch --config " + config + " --json", false);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto ranks = nlohmann::json::parse(r.out);
  REQUIRE(ranks.is_array());
  REQUIRE(ranks.size() == 2);
  for (int k = 0; k < 2; ++k) {
    CHECK(ranks[k]["rank"] == k);
    CHECK(ranks[k]["batch_size"] == 20);
    CHECK(ranks[k]["micro_batch"] == 10);  // its part of the batch
    CHECK(ranks[k].contains("budget_source"));
  }
}

TEST_CASE("mpi: a failing rank ends every rank with its exit code", "[mpi]") {
  if (!mpi_usable()) return;
  TempDir dir;
  const std::string config = write_config(dir, "20");
  // Ranks whose parameters differ (simulated on rank 1 only) must all stop: exit 1, named.
  auto drift = run_command("TRAINER_TEST_DRIFT_RANK=1 " + kMpirun + "-x TRAINER_TEST_DRIFT_RANK -np 2 " + fit_cmd(config, ""));
  CHECK(drift.exit_code == 1);
  CHECK_THAT(drift.out, Catch::Contains("ranks drifted"));
  // A data error keeps its exit code through mpirun.
  auto bad = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--batch-size 20 --resume " + dir.file("missing.ckpt")));
  CHECK(bad.exit_code == 3);
  CHECK_THAT(bad.out, Catch::Contains("missing.ckpt"));
}

TEST_CASE("mpi: a killed rank ends the job without a hang", "[mpi]") {
  if (!mpi_usable()) return;
  TempDir dir;
  const std::string config = write_config(dir, "20");
  const std::string metrics = dir.file("m.jsonl");
  // mpirun under a 30 s KILL timeout; once rank 0 has written an epoch, kill -9 the last
  // rank (a child of mpirun), then report mpirun's exit code. The ranks' pids are killed at
  // the end in case a hang left them behind.
  const std::string script =
      "timeout -s KILL 30 mpirun --allow-run-as-root --oversubscribe " TRAINER_MPIRUN_ENV "-np 2 " + fit_cmd(config, "--epochs 1000000 --metrics " + metrics) +
      " >/dev/null 2>&1 & t=$!; "
      "for i in $(seq 200); do [ -s " + metrics + " ] && break; sleep 0.1; done; "
      "m=$(pgrep -P $t); ranks=$(pgrep -P $m); for p in $ranks; do last=$p; done; kill -9 $last; "
      "wait $t; rc=$?; kill -9 $ranks 2>/dev/null; echo rc=$rc";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_command("sh -c '" + script + "'");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.out);
  CHECK_THAT(r.out, Catch::Contains("rc="));
  CHECK_THAT(r.out, !Catch::Contains("rc=0"));
  CHECK(seconds < 25);  // 30 s would be the timeout catching a hang
}

TEST_CASE("mpi: 2 ranks train a conv model to the single-process weights", "[mpi][image]") {
  if (!mpi_usable()) return;
  TempDir dir;
  // conv + max pooling + flatten + dense, no batch norm (whose statistics are per rank).
  const std::string conv = std::string(TRAINER_FIXTURES_DIR) + "/conv/conv_maxpool";  // 159 images 8x8x1
  const std::string config = dir.file("run.json");
  trainer::test::write_text(config, R"({"data": {"train": {"x": ")" + conv + R"(/X.npy", "y": ")" + conv + R"(/y.npy"},
                                                  "shuffle": true},
  "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
                       {"type": "max_pool2d", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 4}],
            "loss": "cross_entropy", "init_from": ")" + conv + R"(/init"},
  "optimizer": {"type": "adam", "lr": 0.01},
  "training": {"epochs": 2, "batch_size": 24, "seed": 7, "threads": 1},
  "memory": {"ram": "none"}})");
  const std::string single = dir.file("single"), two = dir.file("two");
  auto r1 = run_command(fit_cmd(config, "--export-weights " + single));
  INFO(r1.out);
  REQUIRE(r1.exit_code == 0);
  auto r2 = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--micro-batch 5 --export-weights " + two));
  INFO(r2.out);
  REQUIRE(r2.exit_code == 0);
  for (const char* name : {"conv0.weight", "conv0.bias", "dense0.weight", "dense0.bias"}) {
    const auto a = test_npy::read(single + "/" + name + ".npy"), b = test_npy::read(two + "/" + name + ".npy");
    REQUIRE(a.shape == b.shape);
    for (std::size_t i = 0; i < a.values.size(); ++i) {
      INFO(name << " [" << i << "]: " << b.values[i] << " vs single process " << a.values[i]);
      REQUIRE(std::fabs(a.values[i] - b.values[i]) <= 1e-5 + 1e-4 * std::fabs(a.values[i]));
    }
  }
}

TEST_CASE("mpi: with batch norm each rank normalises by its own statistics, says so, and keeps rank 0's running ones",
          "[mpi][image]") {
  if (!mpi_usable()) return;
  TempDir dir;
  const std::string conv = std::string(TRAINER_FIXTURES_DIR) + "/conv/conv_bn_gap";
  const std::string config = dir.file("run.json");
  trainer::test::write_text(config, R"({"data": {"train": {"x": ")" + conv + R"(/X.npy", "y": ")" + conv + R"(/y.npy"},
                                                  "validation_split": 0.2},
  "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "bias": false},
                       {"type": "batch_norm", "activation": "relu"}, {"type": "global_avg_pool"}, {"type": "dense", "units": 3}]},
  "optimizer": {"type": "adam", "lr": 0.01},
  "training": {"epochs": 2, "batch_size": 20, "seed": 7, "threads": 1},
  "memory": {"ram": "none"}})");
  auto r = run_command(kMpirun + "-np 2 " + fit_cmd(config, "--checkpoint " + dir.file("run.ckpt")));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("batch_norm normalises each rank's part by its own statistics") != std::string::npos);
  CHECK(r.out.find("val_loss") != std::string::npos);
  // The ranks ended in sync (the job checks the trainable parameters after every epoch), and the
  // checkpoint's running statistics (rank 0's) evaluate as a single process would.
  const auto ev = run_command(kBin + " evaluate --config " + config + " --weights " + dir.file("run.ckpt") + " --json", false);
  INFO(ev.out);
  REQUIRE(ev.exit_code == 0);
  CHECK(std::isfinite(nlohmann::json::parse(ev.out).at("loss").get<double>()));
}
