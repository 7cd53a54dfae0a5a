// The Network's forward pass, outputs, workspace plan, dropout, initialisers and the
// validation of impossible layer stacks.
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <vector>

#include "../src/model/packed_gemm.hpp"
#include "support/workspace_support.hpp"
#include "trainer/error.hpp"
#include "trainer/model.hpp"

namespace {

using trainer::Activation;
using trainer::LayerConfig;
using trainer::Loss;

LayerConfig dense(std::int64_t units, Activation a = Activation::linear) {
  return {LayerConfig::Type::dense, units, a, 0.0};
}
LayerConfig dropout(double rate) { return {LayerConfig::Type::dropout, 0, Activation::linear, rate}; }

trainer::ModelConfig model_of(std::vector<LayerConfig> layers, Loss loss = Loss::cross_entropy) {
  trainer::ModelConfig m;
  m.layers = std::move(layers);
  m.loss = loss;
  return m;
}

// A network with its storage, bound for train and eval batches of up to `batch` rows.
struct Bound {
  Bound(const trainer::ModelConfig& m, std::int64_t width, std::int64_t batch)
      : net(m, width),
        params(static_cast<std::size_t>(net.layout().total)),
        grads(params.size(), 0.0f),
        train_ws(trainer::Network::total(net.plan_train(batch))),
        eval_ws(trainer::Network::total(net.plan_eval(batch))) {
    net.bind(params.data(), grads.data(), train_ws.span(), batch, eval_ws.span(), batch);
  }
  trainer::Network net;
  std::vector<float> params, grads;
  test_ws::Aligned train_ws, eval_ws;
};

double hidden(Activation a, double v) {
  switch (a) {
    case Activation::relu: return v > 0 ? v : 0;
    case Activation::leaky_relu: return v > 0 ? v : 0.01 * v;
    case Activation::tanh: return std::tanh(v);
    case Activation::sigmoid: return 1 / (1 + std::exp(-v));
    case Activation::gelu: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case Activation::linear: return v;
  }
  return 0;
}

}  // namespace

TEST_CASE("forward pass is z = a W^T + b with the hidden activation and softmax outputs", "[model]") {
  for (Activation a : {Activation::relu, Activation::leaky_relu, Activation::tanh, Activation::sigmoid,
                       Activation::gelu, Activation::linear}) {
    INFO("activation #" << static_cast<int>(a));
    Bound b(model_of({dense(2, a), dense(2)}), 2, 1);
    // W0 = [[1, -2], [0.5, 1]], b0 = [0.1, -0.3]; W1 = [[1, 1], [-1, 2]], b1 = [0, 0.5]
    b.params = {1, -2, 0.5, 1, 0.1f, -0.3f, 1, 1, -1, 2, 0, 0.5f};
    const float x[2] = {0.7f, 0.4f};
    const double h0 = hidden(a, 1 * 0.7 - 2 * 0.4 + 0.1f), h1 = hidden(a, 0.5 * 0.7 + 1 * 0.4 - 0.3f);
    const double z0 = h0 + h1, z1 = -h0 + 2 * h1 + 0.5;
    const double e0 = std::exp(z0), e1 = std::exp(z1);
    float probs[2];
    const std::int32_t label = 1;
    const auto stats = b.net.evaluate(x, &label, nullptr, 1, probs);
    CHECK(probs[0] == Approx(e0 / (e0 + e1)).epsilon(1e-5));
    CHECK(probs[1] == Approx(e1 / (e0 + e1)).epsilon(1e-5));
    CHECK(stats.loss_sum == Approx(std::log(e0 + e1) - z1).epsilon(1e-5));
    CHECK(stats.correct == (z1 > z0 ? 1 : 0));
    CHECK(stats.samples == 1);
  }
}

TEST_CASE("evaluate outputs sigmoid for binary cross-entropy and raw values for mse", "[model]") {
  Bound bce(model_of({dense(1)}, Loss::binary_cross_entropy), 2, 2);
  bce.params = {2, -1, 0.5f};
  const float x[4] = {1, 1, -1, 1};  // logits 1.5, -2.5
  const std::int32_t labels[2] = {1, 1};
  float out[2];
  const auto s = bce.net.evaluate(x, labels, nullptr, 2, out);
  CHECK(out[0] == Approx(1 / (1 + std::exp(-1.5))));
  CHECK(out[1] == Approx(1 / (1 + std::exp(2.5))));
  CHECK(s.loss_sum == Approx(std::log1p(std::exp(-1.5)) + std::log1p(std::exp(2.5))));
  CHECK(s.correct == 1);  // accuracy by logit > 0

  Bound mse(model_of({dense(2)}, Loss::mse), 2, 1);
  mse.params = {1, 0, 0, 1, 0.5f, -0.5f};
  const float xm[2] = {3, 4};
  const float target[2] = {3, 5};
  float raw[2];
  const auto m = mse.net.evaluate(xm, nullptr, target, 1, raw);
  CHECK(raw[0] == Approx(3.5));
  CHECK(raw[1] == Approx(3.5));
  CHECK(m.loss_sum == Approx((0.25 + 2.25) / 2));  // mean over the T outputs of the sample
}

TEST_CASE("predict without labels gives outputs and no loss", "[model]") {
  Bound b(model_of({dense(3)}), 2, 1);
  const float x[2] = {1, 2};
  float out[3];
  const auto s = b.net.evaluate(x, nullptr, nullptr, 1, out);
  CHECK(out[0] + out[1] + out[2] == Approx(1.0));
  CHECK(s.loss_sum == 0);
  CHECK(s.correct == 0);
}

TEST_CASE("parameter layout is PyTorch Linear order: weight (out, in) then bias, layer by layer", "[model]") {
  trainer::Network net(model_of({dense(5, Activation::relu), dropout(0.5), dense(3)}), 4);
  const auto& t = net.layout().tensors;
  REQUIRE(t.size() == 4);
  CHECK(t[0].name == "dense0.weight");
  CHECK(t[0].shape == std::vector<std::int64_t>{5, 4});
  CHECK(t[1].name == "dense0.bias");
  CHECK(t[1].offset == 20);
  CHECK(t[2].name == "dense1.weight");
  CHECK(t[2].shape == std::vector<std::int64_t>{3, 5});
  CHECK(t[2].offset == 25);
  CHECK(t[3].offset == 40);
  CHECK(net.layout().total == 43);
  CHECK(net.outputs() == 3);
  CHECK(net.input_width() == 4);
}

TEST_CASE("the workspace plan lists 64-byte-rounded items and bind needs exactly that much", "[model]") {
  trainer::Network net(model_of({dense(5, Activation::relu), dropout(0.5), dense(3)}), 4);
  const auto items = net.plan_train(3);
  REQUIRE(items.size() == 3);
  CHECK(items[0].key == "activations");
  // dense0 out [3,5] floats: 60 -> 64; dense1 out [3,3]: 36 -> 64; dropout out [3,5]: 64
  CHECK(items[0].bytes == 192);
  CHECK(items[1].key == "dropout_masks");
  CHECK(items[1].bytes == 64);  // [3, 5] bytes
  CHECK(items[2].key == "gradient");
  CHECK(items[2].bytes == 64);  // [3, 5] floats: the input gradient of dense1
  CHECK(trainer::Network::total(items) == 320);
  for (const auto& item : items) CHECK(item.bytes % 64 == 0);
  const auto eval = net.plan_eval(100);
  REQUIRE(eval.size() == 1);
  CHECK(eval[0].bytes == 2 * 2048);  // two [100, 5] float buffers
  // larger batches need proportionally more
  CHECK(trainer::Network::total(net.plan_train(300)) > trainer::Network::total(items));

  std::vector<float> params(43), grads(43);
  test_ws::Aligned ws(320);
  CHECK_NOTHROW(net.bind(params.data(), grads.data(), ws.span(), 3, {}, 0));
  CHECK_THROWS_AS(net.bind(params.data(), grads.data(), ws.span().first(319), 3, {}, 0), trainer::Error);
}

TEST_CASE("gradients accumulate: two half batches at 1/B equal one batch at 1/B", "[model]") {
  const auto m = model_of({dense(7, Activation::tanh), dense(3)});
  Bound whole(m, 4, 6), halves(m, 4, 6);
  whole.net.init_weights(5);
  halves.params = whole.params;
  std::vector<float> x(24);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
  const std::int32_t labels[6] = {0, 1, 2, 2, 1, 0};
  whole.net.train_micro_batch(x.data(), labels, nullptr, 6, 1.0f / 6, 0);
  halves.net.train_micro_batch(x.data(), labels, nullptr, 3, 1.0f / 6, 0);
  halves.net.train_micro_batch(x.data() + 12, labels + 3, nullptr, 3, 1.0f / 6, 0);
  for (std::size_t i = 0; i < whole.grads.size(); ++i) CHECK(halves.grads[i] == Approx(whole.grads[i]).margin(1e-6));
}

TEST_CASE("the first micro-batch of a step overwrites stale gradients, the next ones add to them", "[model]") {
  // 40 inputs and halves of 32 rows: the weight gradients of both layers are wide and deep enough
  // for the packed GEMM kernel, where it exists.
  const auto m = model_of({dense(48, Activation::relu), dense(5)});
  const std::int64_t features = 40, rows = 64;
  CHECK(trainer::gemm_tiling(48, features, rows / 2, 1).packed == trainer::model::packed_gemm_available());
  CHECK(trainer::gemm_tiling(5, 48, rows / 2, 1).packed == trainer::model::packed_gemm_available());
  Bound whole(m, features, rows), halves(m, features, rows);
  whole.net.init_weights(9);
  halves.params = whole.params;
  std::vector<float> x(static_cast<std::size_t>(features * rows));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.37f * static_cast<float>(i));
  std::vector<std::int32_t> labels(static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 5);
  using G = trainer::Network::Gradients;
  std::fill(whole.grads.begin(), whole.grads.end(), 0.0f);
  whole.net.train_micro_batch(x.data(), labels.data(), nullptr, rows, 1.0f / rows, 0, G::accumulate);
  std::fill(halves.grads.begin(), halves.grads.end(), 7.0f);  // what the previous step left
  halves.net.train_micro_batch(x.data(), labels.data(), nullptr, rows / 2, 1.0f / rows, 0, G::overwrite);
  halves.net.train_micro_batch(x.data() + features * rows / 2, labels.data() + rows / 2, nullptr, rows / 2,
                               1.0f / rows, 0, G::accumulate);
  for (std::size_t i = 0; i < whole.grads.size(); ++i) CHECK(halves.grads[i] == Approx(whole.grads[i]).margin(1e-6));
}

TEST_CASE("dropout is inverted, seeded, reproducible and off in evaluate", "[model]") {
  // identity dense layer after dropout: the outputs show the mask
  const std::int64_t width = 200, rows = 10;
  Bound b(model_of({dropout(0.3), dense(width)}, Loss::mse), width, rows);
  for (std::int64_t i = 0; i < width; ++i) b.params[static_cast<std::size_t>(i * width + i)] = 1.0f;
  std::vector<float> x(static_cast<std::size_t>(rows * width), 1.0f);
  std::vector<float> target(x.size(), 0.0f);
  // mse gradient w.r.t. the output is 2 (z - y) / T * scale: recovers z through dL/db
  auto train_outputs = [&](std::uint64_t seed) {
    std::fill(b.grads.begin(), b.grads.end(), 0.0f);
    const auto s = b.net.train_micro_batch(x.data(), nullptr, target.data(), rows, 1.0f, seed);
    return s.loss_sum;
  };
  const double loss_a = train_outputs(1);
  const auto grads_a = b.grads;
  const double loss_a_again = train_outputs(1);
  CHECK(loss_a_again == loss_a);
  CHECK(b.grads == grads_a);
  const double loss_b = train_outputs(2);
  CHECK(loss_b != loss_a);
  // each output is 0 or 1/(1-p); the per-sample loss is mean z^2 = keep_fraction / (1-p)^2
  const double keep = loss_a / static_cast<double>(rows) * 0.7 * 0.7;
  CHECK(keep == Approx(0.7).margin(0.05));
  // evaluate: no dropout, identity network -> outputs equal inputs
  std::vector<float> out(x.size());
  b.net.evaluate(x.data(), nullptr, target.data(), rows, out.data());
  CHECK(std::all_of(out.begin(), out.end(), [](float v) { return v == 1.0f; }));
  // ... also after a hidden layer, where dropout would act on the evaluation buffers, not on x
  Bound h(model_of({dense(width), dropout(0.3), dense(width)}, Loss::mse), width, rows);
  for (const auto& t : h.net.layout().tensors)
    if (t.shape.size() == 2)
      for (std::int64_t i = 0; i < width; ++i) h.params[static_cast<std::size_t>(t.offset + i * width + i)] = 1.0f;
  std::fill(out.begin(), out.end(), 0.0f);
  h.net.evaluate(x.data(), nullptr, target.data(), rows, out.data());
  CHECK(std::all_of(out.begin(), out.end(), [](float v) { return v == 1.0f; }));
}

TEST_CASE("initialisers are seeded, within their bounds, with the documented spread, biases 0", "[model]") {
  auto weights = [](trainer::Init init, std::uint64_t seed) {
    auto m = model_of({dense(300, Activation::relu), dense(10)});
    m.init = init;
    Bound b(m, 200, 1);
    std::fill(b.params.begin(), b.params.end(), 9.0f);
    b.net.init_weights(seed);
    return b.params;
  };
  const auto he = weights(trainer::Init::he_uniform, 1);
  CHECK(he == weights(trainer::Init::he_uniform, 1));
  CHECK(he != weights(trainer::Init::he_uniform, 2));
  const std::size_t w0 = 300 * 200;
  CHECK(std::all_of(he.begin() + w0, he.begin() + w0 + 300, [](float v) { return v == 0.0f; }));
  CHECK(std::all_of(he.end() - 10, he.end(), [](float v) { return v == 0.0f; }));
  auto stddev = [&](const std::vector<float>& w) {
    double sum = 0, sq = 0;
    for (std::size_t i = 0; i < w0; ++i) {
      sum += w[i];
      sq += static_cast<double>(w[i]) * w[i];
    }
    const double mean = sum / w0;
    return std::sqrt(sq / w0 - mean * mean);
  };
  const double bound = std::sqrt(6.0 / 200);
  CHECK(std::all_of(he.begin(), he.begin() + w0, [&](float v) { return std::abs(v) <= bound; }));
  CHECK(stddev(he) == Approx(bound / std::sqrt(3.0)).epsilon(0.02));
  CHECK(stddev(weights(trainer::Init::he_normal, 3)) == Approx(std::sqrt(2.0 / 200)).epsilon(0.02));
  const auto glorot = weights(trainer::Init::glorot_uniform, 4);
  CHECK(std::all_of(glorot.begin(), glorot.begin() + w0,
                    [](float v) { return std::abs(v) <= std::sqrt(6.0 / 500); }));
  CHECK(stddev(glorot) == Approx(std::sqrt(6.0 / 500) / std::sqrt(3.0)).epsilon(0.02));
  CHECK(stddev(weights(trainer::Init::glorot_normal, 5)) == Approx(std::sqrt(2.0 / 500)).epsilon(0.02));
}

TEST_CASE("impossible layer stacks are refused with the JSON pointer of the layer", "[model]") {
  auto where = [](const trainer::ModelConfig& m) {
    try {
      trainer::Network net(m, 4);
    } catch (const trainer::Error& e) {
      CHECK(e.exit_code() == 2);
      return e.where();
    }
    return std::string("accepted");
  };
  CHECK(where(model_of({})) == "/model/layers");
  CHECK(where(model_of({dropout(0.5)})) == "/model/layers");
  CHECK(where(model_of({dense(4), dropout(0.5)})) == "/model/layers/1");
  CHECK(where(model_of({dense(4), dense(0)})) == "/model/layers/1/units");
  CHECK(where(model_of({dense(4), dropout(1.0), dense(2)})) == "/model/layers/1/rate");
  CHECK(where(model_of({dense(4), dense(2)}, Loss::binary_cross_entropy)) == "/model/layers/1/units");
  CHECK(where(model_of({dense(4), dense(1)}, Loss::binary_cross_entropy)) == "accepted");
}

TEST_CASE("labels outside the classes, or none, are refused, not a crash", "[model]") {
  Bound b(model_of({dense(3)}), 2, 1);
  const float x[2] = {1, 2};
  const std::int32_t bad = 3;
  CHECK_THROWS_AS(b.net.train_micro_batch(x, &bad, nullptr, 1, 1.0f, 0), trainer::Error);
  CHECK_THROWS_AS(b.net.train_micro_batch(x, nullptr, nullptr, 1, 1.0f, 0), trainer::Error);
}

TEST_CASE("training is bitwise reproducible for a thread count, and close across thread counts", "[model]") {
  const auto m = model_of({dense(300, Activation::relu), dense(200, Activation::tanh), dense(10)});
  const std::int64_t rows = 256, width = 300;
  std::vector<float> x(static_cast<std::size_t>(rows * width));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(static_cast<float>(i) * 0.37f);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 10);
  auto grads_with = [&](int threads) {
    trainer::set_compute_threads(threads);
    Bound b(m, width, rows);
    b.net.init_weights(11);
    b.net.train_micro_batch(x.data(), labels.data(), nullptr, rows, 1.0f / rows, 0);
    return b.grads;
  };
  const auto two = grads_with(2);
  CHECK(grads_with(2) == two);
  const auto one = grads_with(1);
  for (std::size_t i = 0; i < one.size(); i += 97) CHECK(two[i] == Approx(one[i]).margin(1e-6));
  trainer::set_compute_threads(1);
}

TEST_CASE("set_compute_threads(0) means every core", "[model]") {
  CHECK(trainer::set_compute_threads(0) >= 1);
  CHECK(trainer::set_compute_threads(3) == 3);
  trainer::set_compute_threads(1);
}
