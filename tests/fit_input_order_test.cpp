// A run in its own order of the input columns (trainer/input_order.hpp) trains the same model as
// one in the file's order, to float rounding, and its checkpoints and exported weights are in the
// file's order: a resumed run ends bitwise equal to an uninterrupted one.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/config.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/error.hpp"
#include "trainer/fit.hpp"
#include "trainer/input_order.hpp"
#include "trainer/model.hpp"
#include "trainer/npy.hpp"

using nlohmann::json;
using trainer::test::TempDir;

namespace {

constexpr std::int64_t kRows = 600, kWidth = 128;

// Chunks of 4 columns 0, 3, 6, ... are zero together in even rows (as blank pixels are): the
// file's order puts them in groups with others, a built order groups them.
json config_with_scattered_zeros() {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> value(0.1f, 1.0f);
  std::uniform_int_distribution<std::int32_t> label(0, 3);
  std::vector<float> x(static_cast<std::size_t>(kRows * kWidth));
  std::vector<std::int32_t> y(static_cast<std::size_t>(kRows));
  for (std::int64_t r = 0; r < kRows; ++r) {
    y[static_cast<std::size_t>(r)] = label(gen);
    for (std::int64_t c = 0; c < kWidth; ++c)
      x[static_cast<std::size_t>(r * kWidth + c)] = (r % 2 == 0 && (c / 4) % 3 == 0) ? 0.0f : value(gen);
  }
  json pair = {{"x", trainer::test::write_npy("order_x.npy", "<f4", {kRows, kWidth}, x)},
               {"y", trainer::test::write_npy("order_y.npy", "<i4", {kRows}, y)}};
  return {{"data", {{"train", pair}, {"validation_split", 0.1}, {"shuffle", true}}},
          {"model", {{"layers", json::array({{{"type", "dense"}, {"units", 64}, {"activation", "relu"}},
                                             {{"type", "dense"}, {"units", 4}}})},
                     {"loss", "cross_entropy"}}},
          {"optimizer", {{"type", "adam"}, {"lr", 0.003}}},
          {"training", {{"epochs", 3}, {"batch_size", 128}, {"seed", 5}, {"threads", 2}}},
          {"memory", {{"ram", "none"}, {"verify", false}}}};
}

std::vector<float> read_floats(const std::string& path) {
  const trainer::NpyArray a = trainer::NpyArray::open(path);
  std::vector<float> v(static_cast<std::size_t>(a.rows() * a.row_width()));
  std::vector<std::int64_t> rows(static_cast<std::size_t>(a.rows()));
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  a.gather_f32(rows, v.data());
  return v;
}

const char* const kTensors[] = {"dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"};

}  // namespace

TEST_CASE("the data of this test gets a built input order", "[fit]") {
  TempDir tmp;
  const trainer::Config config = trainer::load_config_text(config_with_scattered_zeros().dump(), tmp.file("run.json"),
                                                           tmp.path().string());
  const trainer::DataSets data = trainer::open_data(config, trainer::DataUse::train, nullptr);
  const trainer::Network net(config.model, data.width);
  std::vector<float> staging(static_cast<std::size_t>(100 * kWidth));  // sampled in pieces of 100 rows
  const trainer::InputOrder order =
      trainer::build_input_order(net, *data.train.data, data.train.rows, data.transform, staging, 128, 2);
  if (!trainer::gemm_tiling(64, kWidth, 128, 2).packed) {
    // Without AVX-512 every product runs on Eigen, which skips nothing: the file's order stays,
    // and the tests below compare two runs in it.
    CHECK_FALSE(order.active());
    return;
  }
  REQUIRE(order.active());
  CHECK(order.zero_share_file == 0.0);
  CHECK(order.zero_share_run > 0.1);

  // A first layer that is not dense reads the inputs through dropout: no order.
  json cfg = config_with_scattered_zeros();
  cfg["model"]["layers"].insert(cfg["model"]["layers"].begin(), json{{"type", "dropout"}, {"rate", 0.1}});
  const trainer::Config dropout_first = trainer::load_config_text(cfg.dump(), tmp.file("dropout.json"), tmp.path().string());
  const trainer::Network dropout_net(dropout_first.model, data.width);
  CHECK_FALSE(trainer::build_input_order(dropout_net, *data.train.data, data.train.rows, data.transform, staging, 128, 2)
                  .active());
}

TEST_CASE("training in the built input order gives the file-order model, in file-order files", "[fit][checkpoint]") {
  TempDir tmp;
  const trainer::Config config = trainer::load_config_text(config_with_scattered_zeros().dump(), tmp.file("run.json"),
                                                           tmp.path().string());
  trainer::FitOptions file_order;
  file_order.reorder_input_columns = false;
  file_order.export_dir = tmp.file("file");
  const trainer::FitSummary a = trainer::fit(config, file_order);

  trainer::FitOptions reordered;
  reordered.export_dir = tmp.file("reordered");
  reordered.checkpoint_path = tmp.file("reordered.ckpt");
  const trainer::FitSummary b = trainer::fit(config, reordered);

  // Only the order of each sum over the inputs differs: the same model to float rounding.
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (std::size_t e = 0; e < a.epochs.size(); ++e) {
    CHECK(b.epochs[e].train_loss == Approx(a.epochs[e].train_loss).epsilon(1e-5));
    REQUIRE(a.epochs[e].val_loss.has_value());
    CHECK(*b.epochs[e].val_loss == Approx(*a.epochs[e].val_loss).epsilon(1e-5));
  }
  for (const char* name : kTensors) {
    INFO(name);
    const std::vector<float> wa = read_floats(tmp.file(std::string("file/") + name + ".npy"));
    const std::vector<float> wb = read_floats(tmp.file(std::string("reordered/") + name + ".npy"));
    REQUIRE(wa.size() == wb.size());
    double worst = 0;
    for (std::size_t i = 0; i < wa.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(wa[i] - wb[i])));
    CHECK(worst < 1e-4);
  }
  // The checkpoint holds the same file-order weights as the export.
  const trainer::CheckpointData ck = trainer::read_checkpoint(reordered.checkpoint_path);
  const std::vector<float> w0 = read_floats(tmp.file("reordered/dense0.weight.npy"));
  CHECK(std::vector<float>(ck.params.begin(), ck.params.begin() + static_cast<std::ptrdiff_t>(w0.size())) == w0);
}

TEST_CASE("interrupted and resumed in the built input order: bitwise equal to an uninterrupted run", "[fit][checkpoint]") {
  TempDir tmp;
  json cfg = config_with_scattered_zeros();
  // Adam keeps two state blocks, SGD with momentum one: both move with the weights.
  if (GENERATE(false, true)) cfg["optimizer"] = {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}};
  INFO(cfg["optimizer"].dump());
  const trainer::Config config = trainer::load_config_text(cfg.dump(), tmp.file("run.json"), tmp.path().string());
  trainer::FitOptions straight;
  straight.export_dir = tmp.file("straight");
  trainer::fit(config, straight);

  trainer::FitOptions first;
  first.checkpoint_path = tmp.file("run.ckpt");
  first.interrupt_after_steps = 7;  // 540 training rows / 128: 5 steps an epoch, so mid epoch 2
  CHECK_THROWS_AS(trainer::fit(config, first), trainer::Error);
  trainer::FitOptions second;
  second.resume_path = first.checkpoint_path;
  second.export_dir = tmp.file("resumed");
  trainer::fit(config, second);
  for (const char* name : kTensors) {
    INFO(name);
    CHECK(read_floats(tmp.file(std::string("straight/") + name + ".npy")) ==
          read_floats(tmp.file(std::string("resumed/") + name + ".npy")));
  }
}
