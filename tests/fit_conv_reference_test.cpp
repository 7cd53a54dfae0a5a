// The whole training path for image models against the PyTorch runs of fixtures/public/conv:
// a config built from index.json -> fit (init_from the fixture's initial weights, file order) ->
// exported weights (running statistics included), per-epoch train and validation losses and
// accuracies, the test loss, and `trainer predict` on X_test against the reference logits.
// Each run twice: with X stored as the case stores it, and transposed into the other layout
// (data.layout says which), which must not change a single figure beyond rounding.
// The accumulation case runs with batch_size "full" and micro-batches of 16.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/conv_fixture_support.hpp"
#include "support/fixture_support.hpp"
#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"
#include "trainer/config.hpp"
#include "trainer/fit.hpp"

using nlohmann::json;
using trainer::test::TempDir;

namespace {

// x ([n, h, w, c], channels last) as the layout stores it, written as float32 .npy.
void write_images(const std::string& path, const std::vector<float>& x, std::int64_t n, const trainer::SampleShape& s,
                  trainer::Layout layout) {
  const std::int64_t pixels = s.h * s.w;
  std::vector<float> out(x.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = 0; p < pixels; ++p)
      for (std::int64_t c = 0; c < s.c; ++c) {
        const auto from = static_cast<std::size_t>((i * pixels + p) * s.c + c);
        const auto to = layout == trainer::Layout::nhwc ? from : static_cast<std::size_t>((i * s.c + c) * pixels + p);
        out[to] = x[from];
      }
  const std::vector<std::int64_t> shape = layout == trainer::Layout::nhwc ? std::vector<std::int64_t>{n, s.h, s.w, s.c}
                                                                          : std::vector<std::int64_t>{n, s.c, s.h, s.w};
  trainer::test::write_npy(path, "<f4", shape, out.data(), out.size() * sizeof(float));
}

void check_run(const std::string& case_name, const std::string& run, trainer::Layout layout) {
  const conv_fixtures::ConvCase c = conv_fixtures::load_case(case_name);
  const json ref = fixtures::read_json(c.dir + "/" + run + "/ref.json");
  const conv_fixtures::Tolerance tol = conv_fixtures::tolerance(ref);
  TempDir tmp;
  write_images(tmp.file("x.npy"), c.x, c.rows, c.input, layout);
  write_images(tmp.file("x_test.npy"), c.x_test, c.test_rows, c.input, layout);
  const bool full = c.batch_size == c.rows && c.micro_batch < c.rows;
  const json train = {{"x", tmp.file("x.npy")}, {"y", c.dir + "/y.npy"}};
  const json cfg = {
      {"data", {{"train", train}, {"validation", train}, {"test", {{"x", tmp.file("x_test.npy")}, {"y", c.dir + "/y_test.npy"}}},
                {"layout", layout == trainer::Layout::nhwc ? "nhwc" : "nchw"}, {"shuffle", false}}},
      {"model", {{"layers", c.entry.at("layers")}, {"loss", c.entry.at("loss")}, {"init_from", c.dir + "/init"}}},
      {"optimizer", conv_fixtures::optimizer_json(ref.at("hyperparameters"))},
      {"training", {{"epochs", c.epochs}, {"batch_size", full ? json("full") : json(c.batch_size)},
                    {"micro_batch", c.micro_batch}, {"seed", 7}, {"threads", 1}}},
      {"memory", {{"ram", "none"}, {"verify", false}}}};
  const trainer::Config config = trainer::load_config_text(cfg.dump(), tmp.file("run.json"), tmp.path().string());
  trainer::FitOptions options;
  options.export_dir = tmp.file("weights");
  options.checkpoint_path = tmp.file("run.ckpt");
  const trainer::FitSummary summary = trainer::fit(config, options);
  CHECK(summary.micro_batch == c.micro_batch);

  for (const auto& t : c.entry.at("parameters")) {
    const std::string name = t.at("name");
    fixtures::check_close(conv_fixtures::read_floats(options.export_dir + "/" + name + ".npy"),
                               conv_fixtures::read_floats(c.dir + "/" + run + "/final/" + name + ".npy"), tol.weights_atol,
                               tol.weights_rtol, "exported " + name);
  }
  const auto& epochs = ref.at("epochs");
  REQUIRE(summary.epochs.size() == epochs.size());
  const auto n = static_cast<double>(c.rows);
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    const auto& m = summary.epochs[e];
    const auto& r = epochs.at(e);
    INFO("epoch " << e + 1 << ": train_loss " << m.train_loss << " (ref " << r.at("train_loss") << "), val_loss "
                  << m.val_loss.value_or(-1) << " (ref " << r.at("eval_loss") << ")");
    CHECK(std::abs(m.train_loss - r.at("train_loss").get<double>()) <= tol.loss_atol + tol.loss_rtol * std::abs(r.at("train_loss").get<double>()));
    REQUIRE(m.val_loss.has_value());
    CHECK(std::abs(*m.val_loss - r.at("eval_loss").get<double>()) <= tol.loss_atol + tol.loss_rtol * std::abs(r.at("eval_loss").get<double>()));
    CHECK(std::abs(*m.train_accuracy - r.at("train_accuracy").get<double>()) * n <= r.value("train_ambiguous_rows", 0.0) + 1e-6);
    CHECK(std::abs(*m.val_accuracy - r.at("eval_accuracy").get<double>()) * n <= r.value("eval_ambiguous_rows", 0.0) + 1e-6);
  }
  REQUIRE(summary.test_loss.has_value());
  const double test_loss = ref.at("test").at("loss");
  CHECK(std::abs(*summary.test_loss - test_loss) <= tol.loss_atol + tol.loss_rtol * std::abs(test_loss));

  // predict reads the checkpoint alone (its config names the layout) and the test images.
  const auto r = trainer::test::run_command(std::string(TRAINER_BINARY) + " predict --quiet --weights " + options.checkpoint_path +
                                            " --input " + tmp.file("x_test.npy") + " --output " + tmp.file("p.npy"));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  conv_fixtures::check_logits(conv_fixtures::read_floats(tmp.file("p.npy")),
                              conv_fixtures::read_floats(c.dir + "/" + run + "/test_logits.npy"),
                              static_cast<std::int64_t>(c.entry.at("classes")), 1e-4);
}

#define CONV_FIT_RUN(case_name, run)                                                                                 \
  TEST_CASE("fit reproduces the PyTorch conv run " case_name "/" run " in both layouts", "[fit][reference][image]") { \
    SECTION("nhwc") { check_run(case_name, run, trainer::Layout::nhwc); }                                           \
    SECTION("nchw") { check_run(case_name, run, trainer::Layout::nchw); }                                           \
  }

}  // namespace

TRAINER_CONV_REFERENCE_RUNS(CONV_FIT_RUN)
