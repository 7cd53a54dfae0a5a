#include "conv_fixture_support.hpp"

#include <catch2/catch.hpp>
#include <cmath>

#include "fixture_support.hpp"
#include "npy_test_reader_support.hpp"

namespace conv_fixtures {
namespace {

// [n, C, H, W] -> [n, H, W, C].
std::vector<float> to_channels_last(const std::vector<float>& x, std::int64_t n, const trainer::SampleShape& s) {
  std::vector<float> out(x.size());
  const std::int64_t pixels = s.h * s.w;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < s.c; ++c)
      for (std::int64_t p = 0; p < pixels; ++p)
        out[static_cast<std::size_t>((i * pixels + p) * s.c + c)] = x[static_cast<std::size_t>((i * s.c + c) * pixels + p)];
  return out;
}

}  // namespace

std::string conv_dir() { return std::string(TRAINER_FIXTURES_DIR) + "/conv"; }

ConvCase load_case(const std::string& name) {
  ConvCase c;
  c.name = name;
  c.dir = conv_dir() + "/" + name;
  const nlohmann::json index = fixtures::read_json(conv_dir() + "/index.json");
  for (const auto& e : index.at("cases"))
    if (e.at("case") == name) c.entry = e;
  REQUIRE(c.entry.is_object());
  c.layout = c.entry.at("layout") == "nchw" ? trainer::Layout::nchw : trainer::Layout::nhwc;
  const auto& hwc = c.entry.at("image_hwc");
  c.input = trainer::SampleShape::hwc(hwc.at(0), hwc.at(1), hwc.at(2));
  c.rows = c.entry.at("N");
  c.test_rows = c.entry.at("N_test");
  c.batch_size = c.entry.at("batch_size");
  c.micro_batch = c.entry.at("micro_batch");
  c.epochs = c.entry.at("epochs");
  c.x = test_npy::read(c.dir + "/X.npy").as_float();
  c.x_test = test_npy::read(c.dir + "/X_test.npy").as_float();
  if (c.layout == trainer::Layout::nchw) {
    c.x = to_channels_last(c.x, c.rows, c.input);
    c.x_test = to_channels_last(c.x_test, c.test_rows, c.input);
  }
  c.labels = test_npy::read(c.dir + "/y.npy").as_int32();
  c.labels_test = test_npy::read(c.dir + "/y_test.npy").as_int32();
  // The index's layer list is in the config's vocabulary: the loader reads it as a user's config.
  nlohmann::json config = {{"data", {{"train", {{"x", "x.npy"}, {"y", "y.npy"}}}}},
                           {"model", {{"layers", c.entry.at("layers")}, {"loss", c.entry.at("loss")}}}};
  c.model = trainer::load_config_text(config.dump(), c.dir + "/index.json", c.dir).model;
  return c;
}

Tolerance tolerance(const nlohmann::json& ref) {
  const auto& t = ref.at("tolerance");
  return {t.at("weights_atol"), t.at("weights_rtol"), t.at("loss_atol"), t.at("loss_rtol")};
}

nlohmann::json optimizer_json(const nlohmann::json& h) {
  const std::string type = h.at("optimizer");
  nlohmann::json o = {{"type", type}, {"lr", h.at("lr")}, {"weight_decay", h.value("weight_decay", 0.0)}};
  if (type == "sgd") {
    o["momentum"] = h.value("momentum", 0.0);
    o["nesterov"] = h.value("nesterov", false);
  } else {
    o["beta1"] = h.at("beta1");
    o["beta2"] = h.at("beta2");
    o["eps"] = h.at("eps");
  }
  return o;
}

std::vector<float> read_floats(const std::string& npy_path) { return test_npy::read(npy_path).as_float(); }

void check_logits(const std::vector<float>& probabilities, const std::vector<float>& logits, std::int64_t classes,
                  double tol) {
  REQUIRE(probabilities.size() == logits.size());
  double worst = 0;
  for (std::size_t r = 0; r < logits.size() / static_cast<std::size_t>(classes); ++r) {
    const float* p = probabilities.data() + r * static_cast<std::size_t>(classes);
    const float* z = logits.data() + r * static_cast<std::size_t>(classes);
    for (std::int64_t i = 1; i < classes; ++i) {
      const double got = std::log(static_cast<double>(p[i])) - std::log(static_cast<double>(p[0]));
      worst = std::max(worst, std::abs(got - (static_cast<double>(z[i]) - z[0])));
    }
  }
  INFO("largest difference of logit differences: " << worst);
  CHECK(worst <= tol);
}

}  // namespace conv_fixtures
