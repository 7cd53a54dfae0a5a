// Finite-difference gradient checks in double precision, through the double instantiation of
// the layer stack: every activation, every loss, dropout with a fixed (seeded) mask, and every
// image layer: conv2d (strides, rectangular kernels, padding, no bias, a gradient chunked over
// samples), both poolings (overlapping windows too), global_avg_pool, flatten and batch_norm
// after a conv2d and after a dense layer.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "../src/model/layer_stack.hpp"
#include "../src/model/kernels.hpp"
#include "support/workspace_support.hpp"

namespace {

using trainer::Activation;
using trainer::LayerConfig;
using trainer::Loss;
using Stack = trainer::model::LayerStack<double>;

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

// Compares the network's gradient of the mean loss with central differences of the loss, for
// every trainable parameter (batch-norm running statistics do not enter a training step's loss).
Check check_gradients(const trainer::ModelConfig& model, trainer::SampleShape input = trainer::SampleShape::flat(kWidth),
                      std::uint64_t dropout_seed = 9, std::int64_t conv_workspace = trainer::model::kConvWorkspaceFloats) {
  Stack net(model, input, conv_workspace);
  const auto p = static_cast<std::size_t>(net.layout().total);
  const auto trainable = static_cast<std::size_t>(net.layout().trainable);
  std::vector<double> params(p), grads(trainable, 0.0), scratch(trainable);
  test_ws::Aligned ws(trainer::Network::total(net.plan_train(kRows)));
  net.bind(params.data(), grads.data(), ws.span(), kRows, {}, 0);
  net.init_weights(3);
  for (std::size_t i = 0; i < p; ++i) params[i] += 0.1 * wiggle(1000 + i);  // non-zero biases too
  std::vector<double> x(static_cast<std::size_t>(kRows * input.size()));
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
    Stack probe(model, input, conv_workspace);  // a second stack: its gradients are discarded
    test_ws::Aligned probe_ws(trainer::Network::total(probe.plan_train(kRows)));
    probe.bind(params.data(), scratch.data(), probe_ws.span(), kRows, {}, 0);
    return probe.train_micro_batch(x.data(), y, t, kRows, scale, dropout_seed).loss_sum / kRows;
  };
  Check c;
  const double h = 1e-6;
  for (std::size_t i = 0; i < trainable; ++i) {
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

using trainer::Extent;
using Type = LayerConfig::Type;

LayerConfig conv(std::int64_t filters, Extent kernel, Extent stride = {1, 1}, Extent pad = {0, 0},
                 Activation a = Activation::linear, bool bias = true) {
  LayerConfig l;
  l.type = Type::conv2d;
  l.filters = filters;
  l.kernel = kernel;
  l.stride = stride;
  l.pad_begin = l.pad_end = pad;
  l.activation = a;
  l.bias = bias;
  return l;
}
LayerConfig pool(Type type, Extent size, Extent stride) {
  LayerConfig l;
  l.type = type;
  l.size = size;
  l.stride = stride;
  return l;
}
LayerConfig batch_norm(Activation a = Activation::linear) {
  LayerConfig l;
  l.type = Type::batch_norm;
  l.activation = a;
  return l;
}
LayerConfig of(Type type) {
  LayerConfig l;
  l.type = type;
  return l;
}
trainer::ModelConfig model_of(std::vector<LayerConfig> layers) {
  trainer::ModelConfig m;
  m.layers = std::move(layers);
  return m;
}
trainer::SampleShape image(std::int64_t h, std::int64_t w, std::int64_t c) { return trainer::SampleShape::hwc(h, w, c); }

trainer::ModelConfig two_hidden(Activation a, Loss loss, std::int64_t outputs) {
  trainer::ModelConfig m;
  m.layers = {dense(6, a), dense(5, a), dense(outputs)};
  m.loss = loss;
  return m;
}

void require_gradients_match(const trainer::ModelConfig& model,
                             trainer::SampleShape input = trainer::SampleShape::flat(kWidth),
                             std::int64_t conv_workspace = trainer::model::kConvWorkspaceFloats) {
  const Check c = check_gradients(model, input, 9, conv_workspace);
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

TEST_CASE("conv2d with same padding, max pooling and flatten gets the finite-difference gradient", "[model][image]") {
  require_gradients_match(model_of({conv(3, {3, 3}, {1, 1}, {1, 1}, Activation::relu), pool(Type::max_pool2d, {2, 2}, {2, 2}),
                                    of(Type::flatten), dense(3)}),
                          image(6, 6, 2));
}
TEST_CASE("a strided rectangular conv2d without bias and overlapping average pooling get the gradient", "[model][image]") {
  require_gradients_match(model_of({conv(2, {3, 2}, {2, 1}, {1, 0}, Activation::tanh, false),
                                    pool(Type::avg_pool2d, {2, 2}, {1, 1}), of(Type::flatten), dense(3)}),
                          image(7, 6, 3));
}
TEST_CASE("overlapping max pooling after a 1x1 convolution gets the finite-difference gradient", "[model][image]") {
  require_gradients_match(model_of({conv(2, {1, 1}), pool(Type::max_pool2d, {3, 3}, {2, 2}), of(Type::flatten), dense(3)}),
                          image(7, 7, 2));
}
TEST_CASE("batch_norm after a conv2d, a strided padded conv2d and global_avg_pool get the gradient", "[model][image]") {
  require_gradients_match(model_of({conv(3, {3, 3}, {1, 1}, {1, 1}, Activation::linear, false), batch_norm(Activation::relu),
                                    conv(2, {3, 3}, {2, 2}, {1, 1}, Activation::relu), of(Type::global_avg_pool), dense(3)}),
                          image(6, 6, 2));
}
TEST_CASE("batch_norm on a dense layer's features gets the finite-difference gradient", "[model][image]") {
  LayerConfig hidden = dense(6);
  hidden.bias = false;
  require_gradients_match(model_of({hidden, batch_norm(Activation::relu), dense(3)}));
}
TEST_CASE("gelu after conv2d and after batch_norm keeps what its derivative needs", "[model][image]") {
  require_gradients_match(model_of({conv(2, {2, 2}, {1, 1}, {0, 0}, Activation::gelu), batch_norm(Activation::gelu),
                                    of(Type::flatten), dense(3)}),
                          image(4, 5, 2));
}
TEST_CASE("a convolution worked through in chunks of samples gets the same gradient", "[model][image]") {
  // A workspace of one sample's unfolded input: the 5 rows run as 5 chunks, and the weight
  // gradient adds over them.
  const auto m = model_of({conv(2, {3, 3}, {1, 1}, {1, 1}, Activation::relu), conv(2, {3, 3}), of(Type::flatten), dense(3)});
  require_gradients_match(m, image(5, 5, 2), 5 * 5 * 2 * 9);
}
TEST_CASE("flatten of a one-channel image and dropout between image layers pass gradients through", "[model][image]") {
  LayerConfig drop = dropout(0.3);
  require_gradients_match(model_of({conv(1, {2, 2}, {1, 1}, {0, 0}, Activation::tanh), drop, pool(Type::max_pool2d, {2, 2}, {1, 1}),
                                    of(Type::flatten), dense(3)}),
                          image(5, 4, 3));
}
