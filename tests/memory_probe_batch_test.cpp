// trainer probe-batch --json field by field, and the exit-4 refusals of budgets that cannot be
// met, run through the built binary on a generated 784-wide data set.
#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "trainer/npy_writer.hpp"

using trainer::test::run_command;
using trainer::test::TempDir;

namespace {

constexpr std::int64_t kRows = 20000;
constexpr std::int64_t kWidth = 784;

// x float32 [20000, 784], y uint8 in [0, 10); a config with a validation slice and a 784-256-10
// network, so that a sample costs kilobytes and the budget decides the batch.
std::string make_run(const TempDir& dir) {
  std::mt19937 rng(3);
  std::vector<float> x(static_cast<std::size_t>(kRows * kWidth));
  for (auto& v : x) v = static_cast<float>(rng() % 256) / 256.0f;
  std::vector<std::uint8_t> y(static_cast<std::size_t>(kRows));
  for (auto& v : y) v = static_cast<std::uint8_t>(rng() % 10);
  const std::vector<std::int64_t> xs{kRows, kWidth}, ys{kRows};
  trainer::write_npy(dir.file("x.npy"), trainer::DType::f4, xs, x.data());
  trainer::write_npy(dir.file("y.npy"), trainer::DType::u1, ys, y.data());
  const std::string config = dir.file("run.json");
  trainer::test::write_text(config, R"({
  "data": {"train": {"x": "x.npy", "y": "y.npy"}, "validation_split": 0.1},
  "model": {"layers": [{"type": "dense", "units": 256, "activation": "relu"}, {"type": "dense", "units": 10}],
            "loss": "cross_entropy"},
  "optimizer": {"type": "adam", "lr": 0.001},
  "training": {"epochs": 1, "batch_size": "auto", "micro_batch": "auto"},
  "memory": {"headroom": 0.05}
})");
  return config;
}

std::string trainer_cmd(const std::string& config, const std::string& args) {
  return std::string(TRAINER_BINARY) + " --config " + config + " " + args;
}

// stdout only: the JSON object is the whole of it.
nlohmann::json json_of(const std::string& command) {
  const auto r = run_command(command, false);
  INFO(command << "\n" << r.out);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

// The word after `label` in a message (a suggested value), or "" when the label is missing.
std::string value_after(const std::string& out, const std::string& label) {
  const auto at = out.find(label);
  if (at == std::string::npos) return "";
  const std::string rest = out.substr(at + label.size());
  return rest.substr(0, rest.find_first_of(" ;)\n"));
}

}  // namespace

TEST_CASE("probe-batch --json reports the budget, the batch, the breakdown and the trials", "[memory][probe-batch]") {
  TempDir dir;
  const std::string config = make_run(dir);
  const std::uint64_t ram = 64ull << 20;
  const auto j = json_of(trainer_cmd(config, "--ram 64M --json probe-batch"));
  INFO(j.dump(2));

  // The budget: --ram less the 5% headroom.
  CHECK(j.at("budget_source") == "--ram");
  const auto budget = j.at("budget_bytes").get<std::uint64_t>();
  CHECK(static_cast<double>(budget) == Approx(static_cast<double>(ram) * 0.95).margin(1.0));

  // batch_size auto: the micro-batch is the batch, chosen by the budget (not all 18000 rows).
  const auto micro = j.at("micro_batch").get<std::int64_t>();
  CHECK(j.at("batch_size").get<std::int64_t>() == micro);
  CHECK(micro > 100);
  CHECK(micro < kRows * 9 / 10);
  // Evaluation needs no gradients: at least the micro-batch, up to the 2000 validation rows.
  CHECK(j.at("eval_batch_size").get<std::int64_t>() >= std::min<std::int64_t>(micro, kRows / 10));

  // The breakdown adds up to the predicted peak, which is within the budget.
  REQUIRE(j.at("breakdown").is_object());
  std::uint64_t sum = 0;
  for (const auto& [name, bytes] : j.at("breakdown").items()) {
    INFO(name);
    CHECK(bytes.is_number_unsigned());
    sum += bytes.get<std::uint64_t>();
  }
  CHECK(j.at("breakdown").contains("parameters"));
  CHECK(j.at("breakdown").contains("runtime_baseline"));
  CHECK(sum == j.at("predicted_peak_bytes").get<std::uint64_t>());
  CHECK(sum <= budget);

  // The trials: at least the passing one, at the chosen size; the measured peak is its own.
  REQUIRE(j.at("trials").is_array());
  REQUIRE_FALSE(j.at("trials").empty());
  for (const auto& t : j.at("trials")) {
    CHECK(t.at("batch").get<std::int64_t>() >= micro);
    CHECK(t.at("predicted_bytes").get<std::uint64_t>() > 0);
    CHECK(t.at("measured_bytes").is_number_unsigned());
    CHECK(t.at("fits").is_boolean());
  }
  const auto& last = j.at("trials").back();
  CHECK(last.at("fits") == true);
  CHECK(last.at("batch").get<std::int64_t>() == micro);
  CHECK(j.at("measured_peak_bytes").get<std::uint64_t>() == last.at("measured_bytes").get<std::uint64_t>());
  CHECK(j.at("measured_peak_bytes").get<std::uint64_t>() <= static_cast<std::uint64_t>(ram));
  // The plan is honest: the trial measured within 10% of it.
  const double predicted = static_cast<double>(last.at("predicted_bytes").get<std::uint64_t>());
  const double measured = static_cast<double>(last.at("measured_bytes").get<std::uint64_t>());
  CHECK(measured <= predicted * 1.10);
  CHECK(measured >= predicted * 0.90);
}

namespace {
// probe-batch under --ram 1M: exit 4, the largest items and the budget needed; returns that budget.
std::string budget_named_under_1m(const std::string& config) {
  const auto r = run_command(trainer_cmd(config, "--ram 1M probe-batch"));
  INFO(r.out);
  CHECK(r.exit_code == 4);
  CHECK(r.out.find("--ram") != std::string::npos);
  CHECK(r.out.find("largest items") != std::string::npos);
  CHECK(r.out.find("optimizer state") != std::string::npos);  // Adam: the largest item at b = 1
  CHECK(r.out.find("at least") != std::string::npos);
  return value_after(r.out, "at least ");
}
}  // namespace

TEST_CASE("probe-batch with --ram 1M exits 4 naming the largest items and the budget needed", "[memory][probe-batch]") {
  TempDir dir;
  CHECK_FALSE(budget_named_under_1m(make_run(dir)).empty());
}

// [real-memory]: the budget named is the plan's smallest, so it passes a trial only where the
// process's memory is what the plan describes; under ASan the allocator's own memory at times put
// every trial 1.5 MiB above it.
TEST_CASE("the budget probe-batch names after --ram 1M passes its trial", "[memory][probe-batch][real-memory]") {
  TempDir dir;
  const std::string config = make_run(dir);
  const std::string size = budget_named_under_1m(config);
  REQUIRE_FALSE(size.empty());
  INFO("suggested " << size);
  const auto ok = run_command(trainer_cmd(config, "--ram " + size + " --json probe-batch"), false);
  INFO(ok.out);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("trials that run out of stack exit 4 naming the stack limit, and that limit works",
          "[memory][probe-batch][real-memory]") {
  // The GEMMs pack their operands on each compute thread's stack (~0.9 MiB here); under a 256 KiB
  // stack limit every trial dies by SIGSEGV, which a larger --ram would not mend.
  TempDir dir;
  const std::string config = make_run(dir);
  const auto r = run_command("ulimit -s 256 && " + trainer_cmd(config, "probe-batch"));
  INFO(r.out);
  CHECK(r.exit_code == 4);
  CHECK(r.out.find("SIGSEGV") != std::string::npos);
  const std::string kib = value_after(r.out, "ulimit -s ");
  REQUIRE_FALSE(kib.empty());
  INFO("suggested ulimit -s " << kib);
  const auto ok = run_command("ulimit -s " + kib + " && " + trainer_cmd(config, "--json probe-batch"), false);
  INFO(ok.out);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("a forced micro-batch that does not fit exits 4 naming the micro-batch", "[memory][probe-batch]") {
  TempDir dir;
  const std::string config = make_run(dir);
  const auto r = run_command(trainer_cmd(config, "--ram 64M fit --micro-batch 18000"));
  INFO(r.out);
  CHECK(r.exit_code == 4);
  CHECK((r.out.find("/training/micro_batch") != std::string::npos || r.out.find("--micro-batch") != std::string::npos));
  CHECK(r.out.find("epoch 1/") == std::string::npos);
}

TEST_CASE("probe-batch lists every layer and the largest micro-batch that fits, whatever the batch", "[memory][probe-batch][image]") {
  TempDir dir;
  constexpr std::int64_t rows = 2000;
  std::mt19937 rng(5);
  std::vector<std::uint8_t> x(static_cast<std::size_t>(rows * 16 * 16 * 3)), y(static_cast<std::size_t>(rows));
  for (auto& v : x) v = static_cast<std::uint8_t>(rng() % 256);
  for (auto& v : y) v = static_cast<std::uint8_t>(rng() % 10);
  const std::vector<std::int64_t> xs{rows, 16, 16, 3}, ys{rows};
  trainer::write_npy(dir.file("x.npy"), trainer::DType::u1, xs, x.data());
  trainer::write_npy(dir.file("y.npy"), trainer::DType::u1, ys, y.data());
  const std::string config = dir.file("run.json");
  trainer::test::write_text(config, R"({
  "data": {"train": {"x": "x.npy", "y": "y.npy"}, "x_scale": 0.0039},
  "model": {"layers": [{"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "bias": false},
                       {"type": "batch_norm", "activation": "relu"},
                       {"type": "max_pool2d", "size": 2},
                       {"type": "flatten"},
                       {"type": "dense", "units": 10}]},
  "training": {"batch_size": 32}
})");
  const auto j = json_of(trainer_cmd(config, "--ram 64M --json probe-batch"));
  INFO(j.dump(2));
  REQUIRE(j.at("layers").size() == 5);
  const auto& conv = j.at("layers").at(0);
  CHECK(conv.at("index") == 0);
  CHECK(conv.at("type") == "conv2d");
  CHECK(conv.at("output_shape") == nlohmann::json({8, 16, 16}));  // C, H, W as PyTorch prints it
  CHECK(conv.at("parameters") == 8 * 3 * 3 * 3);
  CHECK(conv.at("activation_bytes_per_sample") == 8 * 16 * 16 * 4);  // its output, kept for backward
  CHECK(j.at("layers").at(1).at("parameters") == 16);  // weight and bias; running statistics are buffers
  CHECK(j.at("layers").at(2).at("output_shape") == nlohmann::json({8, 8, 8}));
  CHECK(j.at("layers").at(3).at("output_shape") == nlohmann::json({512}));
  CHECK(j.at("layers").at(4).at("output_shape") == nlohmann::json({10}));
  // The batch of 32 is what the config asks; the budget would take far more.
  CHECK(j.at("micro_batch") == 32);
  CHECK(j.at("max_batch").get<std::int64_t>() > 32);
  CHECK(j.at("max_batch").get<std::int64_t>() <= rows);
  for (const auto& [key, bytes] : j.at("breakdown").items()) {
    INFO(key);
    CHECK(key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
  }
  for (const char* key : {"parameters", "gradients", "optimizer_state", "activations", "gradient", "workspace",
                          "batch_norm_statistics", "input_staging", "evaluation", "sample_order", "gemm_scratch",
                          "thread_stacks", "runtime_baseline"})
    CHECK(j.at("breakdown").contains(key));

  const auto text = run_command(trainer_cmd(config, "--ram 64M probe-batch"), false);
  CHECK(text.out.find("conv2d") != std::string::npos);
  CHECK(text.out.find("8x16x16") != std::string::npos);
  CHECK(text.out.find("max batch") != std::string::npos);
}
