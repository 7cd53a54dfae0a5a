// trainer export --format onnx, held to outside tools: every file runs in ONNX Runtime
// (onnxruntime-node) with the outputs of `trainer predict` on the same rows, within 1e-5
// (relative, absolute below 1), and passes onnx.checker.check_model(full_check=True).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/export_support.hpp"
#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/npy.hpp"

using nlohmann::json;
using namespace trainer::test;

namespace {

constexpr double kTolerance = 1e-5;


void write_config(const std::string& path, const json& config) { write_text(path, config.dump(2)); }

// predict's outputs for `x`, written to `out`.
void predict(const std::string& checkpoint, const std::string& x, const std::string& out) {
  const RunResult r = run_trainer("predict --quiet --weights " + checkpoint + " --input " + x + " --output " + out);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
}

void export_onnx(const std::string& checkpoint, const std::string& out, const std::string& extra = "") {
  const RunResult r = run_trainer("export --quiet --weights " + checkpoint + " --format onnx --output " + out + " " + extra);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
}

void require_runs(const std::vector<OnnxRun>& runs) {
  const RunResult r = run_onnx_runtime(runs);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
}

void require_checked(const std::vector<std::string>& models) {
  const RunResult r = check_onnx(models);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
}

// Row-wise softmax of [rows, classes] logits, in double.
std::vector<float> softmax_rows(const std::vector<float>& logits, std::size_t classes) {
  std::vector<float> out(logits.size());
  for (std::size_t r = 0; r < logits.size() / classes; ++r) {
    const float* row = &logits[r * classes];
    const float top = *std::max_element(row, row + classes);
    double sum = 0;
    for (std::size_t j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(row[j] - top));
    for (std::size_t j = 0; j < classes; ++j)
      out[r * classes + j] = static_cast<float>(std::exp(static_cast<double>(row[j] - top)) / sum);
  }
  return out;
}

void check_same(const std::string& onnx_out, const std::string& predict_out) {
  std::vector<std::int64_t> a_shape, b_shape;
  const auto a = read_f32(onnx_out, &a_shape);
  const auto b = read_f32(predict_out, &b_shape);
  INFO(onnx_out << " against " << predict_out);
  CHECK(a_shape == b_shape);
  CHECK(worst_excess(a, b, kTolerance) == 0.0);
}

// `other`, a config that differs from the run's, given to export with the run's checkpoint: exit
// 3 naming the checkpoint, and no model written.
void require_other_config_refused(const TempDir& dir, const json& other, const std::string& ckpt) {
  write_config(dir.file("other.json"), other);
  const RunResult r = run_trainer("export --config " + dir.file("other.json") + " --weights " + ckpt +
                                  " --format onnx --output " + dir.file("other.onnx"));
  INFO(r.out);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.out, Catch::Contains(ckpt) && Catch::Contains("different model"));
  CHECK_FALSE(std::filesystem::exists(dir.file("other.onnx")));
}

}  // namespace

TEST_CASE("ONNX export of a trained MLP (every activation, dropout, standardisation, uint8 images) equals trainer predict in ONNX Runtime",
          "[export]") {
  TempDir dir;
  // [N, 4, 3] bytes: the graph must flatten, cast, scale and standardise as the trainer does.
  const ExportData data = write_export_data(dir, "img", "|u1", {4, 3}, 96, 3, 11);
  const json layers = json::array({{{"type", "dense"}, {"units", 16}, {"activation", "relu"}},
                                   {{"type", "dropout"}, {"rate", 0.25}},
                                   {{"type", "dense"}, {"units", 12}, {"activation", "leaky_relu"}},
                                   {{"type", "dense"}, {"units", 12}, {"activation", "tanh"}},
                                   {{"type", "dense"}, {"units", 10}, {"activation", "sigmoid"}},
                                   {{"type", "dense"}, {"units", 10}, {"activation", "gelu"}},
                                   {{"type", "dense"}, {"units", 8}, {"activation", "linear"}},
                                   {{"type", "dense"}, {"units", 3}}});
  write_config(dir.file("run.json"),
               export_config(data, layers, "cross_entropy", {{"x_scale", 1.0 / 255}, {"normalize", "standardize"}}));
  const std::string ckpt = dir.file("run.ckpt");
  const RunResult fit = run_trainer("fit --quiet --config " + dir.file("run.json") + " --checkpoint " + ckpt +
                                " --export-weights " + dir.file("fit_weights"));
  INFO(fit.out);
  REQUIRE(fit.exit_code == 0);

  export_onnx(ckpt, dir.file("m.onnx"));
  export_onnx(ckpt, dir.file("logits.onnx"), "--logits");
  predict(ckpt, data.x, dir.file("p.npy"));
  require_runs({{dir.file("m.onnx"), data.x, dir.file("o.npy")}, {dir.file("logits.onnx"), data.x, dir.file("l.npy")}});

  // One training run serves every check below (Catch sections would repeat it).
  check_same(dir.file("o.npy"), dir.file("p.npy"));

  {  // --logits gives the values before the softmax.
    const auto logits = read_f32(dir.file("l.npy"));
    const auto probs = read_f32(dir.file("p.npy"));
    REQUIRE(logits.size() == probs.size());
    double largest_row_sum_error = 0;
    for (std::size_t r = 0; r < logits.size() / 3; ++r) {
      const float* row = &logits[r * 3];
      largest_row_sum_error = std::max(largest_row_sum_error, std::fabs(row[0] + row[1] + row[2] - 1.0));
    }
    CHECK(worst_excess(softmax_rows(logits, 3), probs, kTolerance) == 0.0);
    CHECK(largest_row_sum_error > 0.01);  // not probabilities themselves
  }

  {  // The checker accepts both files, and the metadata name the version and config hash.
    const RunResult r = check_onnx({dir.file("m.onnx"), dir.file("logits.onnx")});
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const std::string hash = hash_hex(trainer::read_checkpoint(ckpt).config_hash);
    CHECK_THAT(r.out, Catch::Contains("'trainer_version': '" TRAINER_VERSION "'") &&
                          Catch::Contains("'config_hash': '" + hash + "'") && Catch::Contains("'ai.onnx': 17") &&
                          Catch::Contains("'output': 'logits'") && Catch::Contains("'output': 'probabilities'"));
  }

  {  // --format npy writes what fit --export-weights wrote, byte for byte.
    const RunResult r = run_trainer("export --quiet --weights " + ckpt + " --format npy --output " + dir.file("npy"));
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.file("fit_weights"))) {
      INFO(entry.path());
      CHECK(read_text(entry.path().string()) == read_text(dir.file("npy/" + entry.path().filename().string())));
      ++files;
    }
    CHECK(files == 14);  // 7 dense layers
    CHECK(std::distance(std::filesystem::directory_iterator(dir.file("npy")), {}) == files);
  }
}

TEST_CASE("ONNX input x takes every dtype and per-sample shape the reader handles, and the graph matches predict for each loss",
          "[export]") {
  struct Case {
    std::string descr;
    std::vector<std::int64_t> sample_shape;
    std::string loss;
  };
  const std::vector<Case> cases{
      {"|b1", {6}, "binary_cross_entropy"}, {"|u1", {2, 3}, "cross_entropy"}, {"<u2", {5}, "mse"},
      {"<u4", {5}, "cross_entropy"},        {"<u8", {5}, "binary_cross_entropy"}, {"|i1", {5}, "mse"},
      {"<i2", {5}, "cross_entropy"},        {"<i4", {5}, "binary_cross_entropy"}, {"<i8", {3, 2}, "mse"},
      {"<f2", {5}, "cross_entropy"},        {"<f4", {5}, "binary_cross_entropy"}, {"<f8", {5}, "mse"},
      {">f8", {2, 2, 2}, "cross_entropy"},  {">i4", {5}, "mse"},                  {"<f8", {}, "cross_entropy"}};
  const std::vector<std::string> activations{"relu", "leaky_relu", "tanh", "sigmoid", "gelu", "linear"};
  TempDir dir;
  std::vector<OnnxRun> runs;
  std::vector<std::string> models, predictions;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::string name = "case" + std::to_string(i);
    const bool wide = c.descr[1] != 'b' && c.descr[1] != 'f' && c.descr != "|u1" && c.descr != "|i1";
    const ExportData data = write_export_data(dir, name, c.descr, c.sample_shape, 9, 2, 100 + i);
    const std::int64_t outputs = c.loss == "binary_cross_entropy" ? 1 : c.loss == "mse" ? 2 : 3;
    const json layers = json::array({{{"type", "dense"}, {"units", 7}, {"activation", activations[i % 6]}},
                                     {{"type", "dropout"}, {"rate", 0.5}},
                                     {{"type", "dense"}, {"units", 6}, {"activation", activations[(i + 3) % 6]}},
                                     {{"type", "dense"}, {"units", outputs}}});
    const json extra{{"x_scale", wide ? 0.001 : 0.5}, {"normalize", i % 2 ? "none" : "standardize"}};
    const std::string ckpt = dir.file(name + ".ckpt");
    write_random_checkpoint(ckpt, export_config(data, layers, c.loss, extra), data.width, 200 + i);
    export_onnx(ckpt, dir.file(name + ".onnx"));
    predict(ckpt, data.x, dir.file(name + "_p.npy"));
    runs.push_back({dir.file(name + ".onnx"), data.x, dir.file(name + "_o.npy")});
    models.push_back(dir.file(name + ".onnx"));
    predictions.push_back(dir.file(name + "_p.npy"));
  }
  require_runs(runs);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].descr << " " << cases[i].loss);
    check_same(runs[i].output, predictions[i]);
  }
  require_checked(models);
}

TEST_CASE("ONNX input: a checkpoint naming its data by a relative path gives float32 rows, --config gives the data's own dtype",
          "[export]") {
  TempDir dir;
  const ExportData data = write_export_data(dir, "rel", "|u1", {2, 4}, 12, 3, 5);
  json config = export_config(data, json::array({{{"type", "dense"}, {"units", 5}, {"activation", "gelu"}},
                                                 {{"type", "dense"}, {"units", 3}}}),
                              "cross_entropy", {{"x_scale", 0.0625}, {"normalize", "standardize"}});
  config["data"]["train"] = {{"x", "rel_x.npy"}, {"y", "rel_y.npy"}};  // relative to run.json's folder
  write_config(dir.file("run.json"), config);
  const std::string ckpt = dir.file("run.ckpt");
  write_random_checkpoint(ckpt, config, data.width, 9);
  predict(ckpt, data.x, dir.file("p.npy"));

  const RunResult flat = run_trainer("export --weights " + ckpt + " --format onnx --output " + dir.file("flat.onnx") + " --json");
  INFO(flat.out);
  REQUIRE(flat.exit_code == 0);
  CHECK_THAT(flat.out, Catch::Contains("relative path") && Catch::Contains("--config"));
  CHECK_THAT(flat.out, Catch::Contains(R"("input":{"dtype":"<f4","name":"x","shape":[8]})"));

  const RunResult typed = run_trainer("export --config " + dir.file("run.json") + " --weights " + ckpt +
                                  " --format onnx --output " + dir.file("typed.onnx") + " --json");
  INFO(typed.out);
  REQUIRE(typed.exit_code == 0);
  CHECK_THAT(typed.out, Catch::Contains(R"("input":{"dtype":"|u1","name":"x","shape":[2,4]})"));

  // The float32 model is fed the same values as float32 rows.
  const trainer::NpyArray x = trainer::NpyArray::open(data.x);
  std::vector<std::int64_t> rows(12);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  std::vector<float> values(static_cast<std::size_t>(12 * data.width));
  x.gather_f32(rows, values.data());
  write_npy(dir.file("x_f32.npy"), "<f4", {12, data.width}, values.data(), values.size() * sizeof(float));

  require_runs({{dir.file("flat.onnx"), dir.file("x_f32.npy"), dir.file("flat_o.npy")},
                {dir.file("typed.onnx"), data.x, dir.file("typed_o.npy")}});
  check_same(dir.file("flat_o.npy"), dir.file("p.npy"));
  check_same(dir.file("typed_o.npy"), dir.file("p.npy"));
  require_checked({dir.file("flat.onnx"), dir.file("typed.onnx")});

  json other = config;  // --config of another run is refused.
  other["model"]["layers"][0]["units"] = 6;
  require_other_config_refused(dir, other, ckpt);
}

TEST_CASE("ONNX export of CNNs with batch norm, trained on images in every layout, equals trainer predict in ONNX Runtime",
          "[export]") {
  // Each case is trained briefly by `trainer fit`, so batch norm's running statistics differ from
  // any batch's: a graph that normalised by the batch would not match predict.
  struct Case {
    std::string name, descr;
    std::vector<std::int64_t> sample_shape;  // as stored in x.npy
    json data;                               // merged into /data
    json layers;
    std::string loss;
    int classes;
    std::vector<std::int64_t> input_shape;   // x's per-sample shape export reports
  };
  const std::vector<Case> cases{
      // NHWC, 3 channels: the graph's Transpose to NCHW, the flatten order and an even kernel's
      // "same" padding (one more zero after than before) all show.
      {"nhwc", "<f4", {8, 8, 3}, {{"x_scale", 0.5}},
       json::array({{{"type", "conv2d"}, {"filters", 4}, {"kernel", {2, 3}}, {"padding", "same"}, {"bias", false}},
                    {{"type", "batch_norm"}, {"momentum", 0.3}, {"activation", "relu"}},
                    {{"type", "max_pool2d"}, {"size", 2}},
                    {{"type", "conv2d"}, {"filters", 3}, {"kernel", 3}, {"padding", 1}, {"activation", "tanh"}},
                    {{"type", "avg_pool2d"}, {"size", 2}, {"stride", 1}},
                    {{"type", "flatten"}},
                    {{"type", "dense"}, {"units", 6}, {"bias", false}},
                    {{"type", "batch_norm"}, {"activation", "gelu"}},
                    {{"type", "dropout"}, {"rate", 0.2}},
                    {{"type", "dense"}, {"units", 3}}}),
       "cross_entropy", 3, {8, 8, 3}},
      // NCHW bytes with x_scale and per-channel standardisation: cast, scale and statistics in
      // the file's order of values, then no Transpose.
      {"nchw_u8", "|u1", {3, 7, 7}, {{"layout", "nchw"}, {"x_scale", 1.0 / 255}, {"normalize", "standardize"}},
       json::array({{{"type", "conv2d"}, {"filters", 5}, {"kernel", 3}, {"stride", 2}, {"activation", "leaky_relu"}},
                    {{"type", "batch_norm"}, {"momentum", 0.3}, {"activation", "relu"}},
                    {{"type", "max_pool2d"}, {"size", 2}, {"stride", 1}},
                    {{"type", "global_avg_pool"}},
                    {{"type", "dense"}, {"units", 4}}}),
       "cross_entropy", 4, {3, 7, 7}},
      // Flat float64 rows read as 6x6x2 images (channels last) through image_shape.
      {"flat_rows", "<f8", {72}, {{"image_shape", {6, 6, 2}}, {"normalize", "standardize"}},
       json::array({{{"type", "conv2d"}, {"filters", 3}, {"kernel", 3}, {"padding", "same"}, {"activation", "sigmoid"}},
                    {{"type", "avg_pool2d"}, {"size", {2, 3}}},
                    {{"type", "flatten"}},
                    {{"type", "dense"}, {"units", 1}}}),
       "binary_cross_entropy", 2, {72}},
      // Flat rows of channel planes (image_shape with layout nchw), a 1x1 convolution.
      {"flat_planes", "<f4", {50}, {{"image_shape", {5, 5, 2}}, {"layout", "nchw"}},
       json::array({{{"type", "conv2d"}, {"filters", 2}, {"kernel", 1}, {"activation", "relu"}},
                    {{"type", "flatten"}},
                    {{"type", "dense"}, {"units", 2}}}),
       "cross_entropy", 2, {50}},
      // One channel stored [N, H, W].
      {"one_channel", "|u1", {6, 6}, {{"x_scale", 1.0 / 255}},
       json::array({{{"type", "conv2d"}, {"filters", 2}, {"kernel", 3}, {"bias", false}},
                    {{"type", "batch_norm"}, {"activation", "relu"}},
                    {{"type", "flatten"}},
                    {{"type", "dense"}, {"units", 3}}}),
       "cross_entropy", 3, {6, 6}},
  };
  TempDir dir;
  std::vector<OnnxRun> runs;
  std::vector<std::string> models;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO(c.name);
    const ExportData data = write_export_data(dir, c.name, c.descr, c.sample_shape, 40, c.classes, 300 + i);
    write_config(dir.file(c.name + ".json"), export_config(data, c.layers, c.loss, c.data));
    const std::string ckpt = dir.file(c.name + ".ckpt");
    const RunResult fit = run_trainer("fit --quiet --config " + dir.file(c.name + ".json") + " --checkpoint " + ckpt);
    INFO(fit.out);
    REQUIRE(fit.exit_code == 0);

    const RunResult e = run_trainer("export --json --weights " + ckpt + " --format onnx --output " + dir.file(c.name + ".onnx"));
    INFO(e.out);
    REQUIRE(e.exit_code == 0);
    const json reported = json::parse(e.out.substr(e.out.find("{\"format\"")));
    CHECK(reported["input"]["dtype"] == c.descr);
    CHECK(reported["input"]["shape"] == json(c.input_shape));
    export_onnx(ckpt, dir.file(c.name + "_logits.onnx"), "--logits");
    predict(ckpt, data.x, dir.file(c.name + "_p.npy"));
    runs.push_back({dir.file(c.name + ".onnx"), data.x, dir.file(c.name + "_o.npy")});
    runs.push_back({dir.file(c.name + "_logits.onnx"), data.x, dir.file(c.name + "_l.npy")});
    models.push_back(dir.file(c.name + ".onnx"));
    models.push_back(dir.file(c.name + "_logits.onnx"));
  }
  require_runs(runs);
  for (const Case& c : cases) {
    INFO(c.name);
    check_same(dir.file(c.name + "_o.npy"), dir.file(c.name + "_p.npy"));
    if (c.loss == "cross_entropy")  // the logits are what the head turns into predict's output
      CHECK(worst_excess(softmax_rows(read_f32(dir.file(c.name + "_l.npy")), static_cast<std::size_t>(c.classes)),
                         read_f32(dir.file(c.name + "_p.npy")), kTolerance) == 0.0);
  }
  require_checked(models);
}

TEST_CASE("A checkpoint made by fit records how x is stored: ONNX export needs neither --config nor the training data",
          "[export]") {
  TempDir dir;
  const ExportData data = write_export_data(dir, "rec", "|u1", {5, 5}, 24, 2, 21);
  json config = export_config(data,
                              json::array({{{"type", "conv2d"}, {"filters", 2}, {"kernel", 3}, {"activation", "relu"}},
                                           {{"type", "flatten"}},
                                           {{"type", "dense"}, {"units", 2}}}),
                              "cross_entropy", {{"x_scale", 1.0 / 255}});
  config["data"]["train"] = {{"x", "rec_x.npy"}, {"y", "rec_y.npy"}};  // relative to run.json's folder
  write_config(dir.file("run.json"), config);
  const std::string ckpt = dir.file("run.ckpt");
  const RunResult fit = run_trainer("fit --quiet --config " + dir.file("run.json") + " --checkpoint " + ckpt);
  INFO(fit.out);
  REQUIRE(fit.exit_code == 0);
  const trainer::CheckpointData ck = trainer::read_checkpoint(ckpt);
  CHECK(ck.x_dtype == "|u1");
  CHECK(ck.x_sample_shape == std::vector<std::int64_t>{5, 5});

  predict(ckpt, data.x, dir.file("p.npy"));
  std::filesystem::rename(data.x, dir.file("feed.npy"));  // the training data is gone
  std::filesystem::remove(data.y);
  const RunResult e = run_trainer("export --json --weights " + ckpt + " --format onnx --output " + dir.file("m.onnx"));
  INFO(e.out);
  REQUIRE(e.exit_code == 0);
  CHECK_THAT(e.out, Catch::Contains(R"("input":{"dtype":"|u1","name":"x","shape":[5,5]})"));
  CHECK_THAT(e.out, !Catch::Contains("warn"));
  require_runs({{dir.file("m.onnx"), dir.file("feed.npy"), dir.file("o.npy")}});
  check_same(dir.file("o.npy"), dir.file("p.npy"));
  require_checked({dir.file("m.onnx")});

  // The recorded input needs no --config, but a --config of another run is still refused.
  json other = config;
  other["model"]["layers"][0]["filters"] = 3;
  require_other_config_refused(dir, other, ckpt);
}
