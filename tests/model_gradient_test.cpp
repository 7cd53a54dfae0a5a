// Finite-difference gradient checks in double precision, through the double instantiation of
// the layer stack: every activation, every loss, and dropout with a fixed (seeded) mask.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "../src/model/dense_stack.hpp"
#include "../src/model/kernels.hpp"
#include "support/workspace_support.hpp"

namespace {

using trainer::Activation;
using trainer::LayerConfig;
using trainer::Loss;
using Stack = trainer::model::DenseStack<double>;

constexpr std::int64_t kRows = 5, kWidth = 4;

LayerConfig dense(std::int64_t units, Activation a = Activation::linear) {
  return {LayerConfig::Type::dense, units, a, 0.0};
}
LayerConfig dropout(double rate) { return {LayerConfig::Type::dropout, 0, Activation::linear, rate}; }

// A deterministic pseudo-random value in [-1, 1).
double wiggle(std::uint64_t i) {
  return static_cast<double>(trainer::model::splitmix64(i) >> 11) * 0x1.0p-52 - 1.0;
}

struct Check {
  double worst = 0;       // largest |analytic - numeric| / (1e-7 + 1e-5 |numeric|)
  double largest = 0;     // largest |gradient|, to show the check is not vacuous
  std::size_t checked = 0;
};

// Compares the network's gradient of the mean loss with central differences of the loss.
Check check_gradients(const trainer::ModelConfig& model, std::uint64_t dropout_seed = 9) {
  Stack net(model, kWidth);
  const auto p = static_cast<std::size_t>(net.layout().total);
  std::vector<double> params(p), grads(p, 0.0), scratch(p);
  test_ws::Aligned ws(trainer::Network::total(net.plan_train(kRows)));
  net.bind(params.data(), grads.data(), ws.span(), kRows, {}, 0);
  net.init_weights(3);
  for (std::size_t i = 0; i < p; ++i) params[i] += 0.1 * wiggle(1000 + i);  // non-zero biases too
  std::vector<double> x(kRows * kWidth);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.5 * wiggle(i);
  const std::int64_t outputs = net.outputs();
  std::vector<std::int32_t> labels(kRows);
  std::vector<float> targets(static_cast<std::size_t>(kRows * outputs));
  for (std::size_t i = 0; i < labels.size(); ++i)
    labels[i] = static_cast<std::int32_t>(model.loss == Loss::binary_cross_entropy ? i % 2 : i % static_cast<std::size_t>(outputs));
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<float>(wiggle(500 + i));
  const std::int32_t* y = model.loss == Loss::mse ? nullptr : labels.data();
  const float* t = model.loss == Loss::mse ? targets.data() : nullptr;
  const double scale = 1.0 / kRows;

  net.train_micro_batch(x.data(), y, t, kRows, scale, dropout_seed);
  const std::vector<double> analytic = grads;
  auto mean_loss = [&] {
    Stack probe(model, kWidth);  // a second stack: its gradients are discarded
    test_ws::Aligned probe_ws(trainer::Network::total(probe.plan_train(kRows)));
    probe.bind(params.data(), scratch.data(), probe_ws.span(), kRows, {}, 0);
    return probe.train_micro_batch(x.data(), y, t, kRows, scale, dropout_seed).loss_sum / kRows;
  };
  Check c;
  const double h = 1e-6;
  for (std::size_t i = 0; i < p; ++i) {
    const double saved = params[i];
    params[i] = saved + h;
    const double up = mean_loss();
    params[i] = saved - h;
    const double down = mean_loss();
    params[i] = saved;
    const double numeric = (up - down) / (2 * h);
    c.worst = std::max(c.worst, std::abs(analytic[i] - numeric) / (1e-7 + 1e-5 * std::abs(numeric)));
    c.largest = std::max(c.largest, std::abs(analytic[i]));
    ++c.checked;
  }
  return c;
}

trainer::ModelConfig two_hidden(Activation a, Loss loss, std::int64_t outputs) {
  trainer::ModelConfig m;
  m.layers = {dense(6, a), dense(5, a), dense(outputs)};
  m.loss = loss;
  return m;
}

void require_gradients_match(const trainer::ModelConfig& model) {
  const Check c = check_gradients(model);
  INFO("worst error / tolerance " << c.worst << " over " << c.checked << " parameters");
  CHECK(c.checked > 0);
  CHECK(c.largest > 1e-3);
  CHECK(c.worst <= 1.0);
}

}  // namespace

TEST_CASE("relu layers backpropagate the finite-difference gradient", "[model]") {
  require_gradients_match(two_hidden(Activation::relu, Loss::cross_entropy, 3));
}
TEST_CASE("leaky_relu layers backpropagate the finite-difference gradient", "[model]") {
  require_gradients_match(two_hidden(Activation::leaky_relu, Loss::cross_entropy, 3));
}
TEST_CASE("tanh layers backpropagate the finite-difference gradient", "[model]") {
  require_gradients_match(two_hidden(Activation::tanh, Loss::cross_entropy, 3));
}
TEST_CASE("sigmoid layers backpropagate the finite-difference gradient", "[model]") {
  require_gradients_match(two_hidden(Activation::sigmoid, Loss::cross_entropy, 3));
}
TEST_CASE("gelu layers backpropagate the finite-difference gradient", "[model]") {
  require_gradients_match(two_hidden(Activation::gelu, Loss::cross_entropy, 3));
}
TEST_CASE("linear hidden layers backpropagate the finite-difference gradient", "[model]") {
  require_gradients_match(two_hidden(Activation::linear, Loss::cross_entropy, 3));
}
TEST_CASE("mse loss gradient matches finite differences (several outputs)", "[model]") {
  require_gradients_match(two_hidden(Activation::tanh, Loss::mse, 2));
}
TEST_CASE("binary cross-entropy from logits gradient matches finite differences", "[model]") {
  require_gradients_match(two_hidden(Activation::tanh, Loss::binary_cross_entropy, 1));
}
TEST_CASE("a single dense layer (softmax regression) gets the finite-difference gradient", "[model]") {
  trainer::ModelConfig m;
  m.layers = {dense(3)};
  require_gradients_match(m);
}
TEST_CASE("dropout with a fixed seed backpropagates through its mask", "[model]") {
  trainer::ModelConfig m;
  m.layers = {dropout(0.25), dense(6, Activation::tanh), dropout(0.4), dense(5, Activation::gelu), dense(3)};
  require_gradients_match(m);
}
