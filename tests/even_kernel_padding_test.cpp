// Padding "same" with an even kernel needs one more zero on one side than the other; PyTorch (and
// so trainer) puts it after the input: at the bottom and on the right. tests/fixtures/
// even_kernel_same holds a PyTorch forward pass through a 4x4 and a 2x3 convolution with that
// padding (make_even_kernel_same.py); the model here is built from the same layer list through
// the config loader, which decides the padding, with PyTorch's parameters.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/conv_fixture_support.hpp"
#include "support/fixture_support.hpp"
#include "support/npy_test_reader_support.hpp"
#include "support/workspace_support.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"

TEST_CASE("even kernels with padding same put the extra zeros after the input, as PyTorch", "[model][image]") {
  const std::string dir = std::string(TRAINER_SOURCE_DIR) + "/tests/fixtures/even_kernel_same";
  std::ifstream index(dir + "/layers.json");
  REQUIRE(index);
  const nlohmann::json fixture = nlohmann::json::parse(index);
  const nlohmann::json config = {{"data", {{"train", {{"x", "X.npy"}, {"y", "y.npy"}}}}},
                                 {"model", {{"layers", fixture.at("layers")}, {"loss", "cross_entropy"}}}};
  const trainer::ModelConfig model = trainer::load_config_text(config.dump(), dir + "/layers.json", dir).model;
  const auto& hwc = fixture.at("image_hwc");
  trainer::Network net(model, trainer::SampleShape::hwc(hwc.at(0), hwc.at(1), hwc.at(2)));

  const std::vector<float> x = test_npy::read(dir + "/X.npy").as_float();
  const std::vector<std::int32_t> y = test_npy::read(dir + "/y.npy").as_int32();
  const std::vector<float> logits = conv_fixtures::read_floats(dir + "/logits.npy");
  const auto rows = static_cast<std::int64_t>(y.size());
  const std::int64_t classes = static_cast<std::int64_t>(logits.size()) / rows;

  std::vector<float> params = fixtures::load_flat_weights(dir + "/init", net.layout());
  std::vector<float> grads(static_cast<std::size_t>(net.layout().trainable));
  test_ws::Aligned train_ws(trainer::Network::total(net.plan_train(rows)));
  test_ws::Aligned eval_ws(trainer::Network::total(net.plan_eval(rows)));
  net.bind(params.data(), grads.data(), train_ws.span(), rows, eval_ws.span(), rows);

  std::vector<float> probabilities(logits.size());
  net.evaluate(x.data(), y.data(), nullptr, rows, probabilities.data());
  conv_fixtures::check_logits(probabilities, logits, classes, 1e-4);
}
