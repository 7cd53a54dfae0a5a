// One conv2d layer's forward and backward at the shapes of the Fashion-MNIST CNN
// (configs/fashion-mnist-cnn.json), through the same layer code `trainer fit` runs (issue 18):
//   conv1  28x28x1  -> 32 filters, 3x3 same, relu; backward without the input's gradient (first layer)
//   conv2  14x14x32 -> 64 filters, 3x3 same, relu; backward with it
// and the max_pool2d after each, at batches 32, 128 and 512 on 1 and 2 threads; and one whole
// training step of the model (forward, backward, Adam) through the Network `trainer fit` uses.
//
//   build-bench/bench/conv_bench --benchmark_min_time=0.3 [--benchmark_filter=conv2]
//
// Counters: samples/s (items_per_second) and GFLOP/s of the pass's products (forward: one GEMM;
// backward: the weight gradient, plus the input gradient for conv2), so a row compares with the
// SGEMM peak of gemm_bench. The buffers come from the layer's own plan (carve_train, workspace),
// as in a training run.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "../src/model/layers/layer.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"

namespace {

using trainer::model::Index;

struct Shape {
  const char* name;
  Index h, w, c, filters;
  bool input_grad;
};
constexpr Shape kConv1{"conv1", 28, 28, 1, 32, false};
constexpr Shape kConv2{"conv2", 14, 14, 32, 64, true};

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
std::unique_ptr<T[], AlignedFree> aligned(std::uint64_t count) {
  const std::uint64_t bytes = (count * sizeof(T) + 63) / 64 * 64 + 64;
  return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(std::aligned_alloc(64, bytes)));
}

// A layer of the model bound to buffers carved from its own plan, with random inputs (half of
// them zero at random, as after a relu, but without the blank regions of real images whose
// all-zero steps the GEMM kernel skips) and random output gradients.
struct Bench {
  trainer::ParamLayout layout;
  std::unique_ptr<trainer::model::Layer<float>> layer;
  std::unique_ptr<float[], AlignedFree> params, grads, in, g;
  std::unique_ptr<std::byte[], AlignedFree> own;
  trainer::model::SharedBuffers<float> shared;
  std::unique_ptr<float[], AlignedFree> workspace, gradient;

  Bench(const trainer::LayerConfig& config, const trainer::SampleShape& input, Index batch) {
    trainer::model::ParamRegistry registry(layout);
    trainer::model::LayerSite site;
    site.pointer = "/model/layers/0";
    site.input = input;
    layer = trainer::model::make_layer<float>(config, site, registry);
    registry.finish();
    params = aligned<float>(static_cast<std::uint64_t>(std::max<std::int64_t>(1, layout.total)));
    grads = aligned<float>(static_cast<std::uint64_t>(std::max<std::int64_t>(1, layout.total)));
    layer->bind_params(params.get(), grads.get(), layout);
    layer->init(1);
    trainer::model::Carver measure(nullptr);
    layer->carve_train(measure, batch);
    own = aligned<std::byte>(measure.used());
    trainer::model::Carver carve(own.get());
    layer->carve_train(carve, batch);
    const Index ws = layer->workspace(batch);
    workspace = aligned<float>(static_cast<std::uint64_t>(std::max<Index>(1, ws)));
    gradient = aligned<float>(static_cast<std::uint64_t>(batch * input.size()));
    shared = {gradient.get(), workspace.get(), ws};
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const auto in_count = static_cast<std::uint64_t>(batch * input.size());
    in = aligned<float>(in_count);
    for (std::uint64_t i = 0; i < in_count; ++i) in[i] = std::max(0.0f, u(rng));
    const auto out_count = static_cast<std::uint64_t>(batch * layer->output().size());
    g = aligned<float>(out_count);
    for (std::uint64_t i = 0; i < out_count; ++i) g[i] = u(rng);
  }
};

trainer::LayerConfig conv(const Shape& s) {
  trainer::LayerConfig l;
  l.type = trainer::LayerConfig::Type::conv2d;
  l.filters = s.filters;
  l.kernel = {3, 3};
  l.pad_begin = {1, 1};
  l.pad_end = {1, 1};
  l.activation = trainer::Activation::relu;
  return l;
}

double conv_flops(const Shape& s, bool backward) {
  const double macs = double(s.h * s.w) * double(s.filters) * double(9 * s.c);
  return 2.0 * macs * (backward ? (s.input_grad ? 2.0 : 1.0) : 1.0);
}

void run_conv(benchmark::State& state, const Shape& s, bool backward) {
  const Index batch = state.range(0);
  trainer::set_compute_threads(static_cast<int>(state.range(1)));
  Bench b(conv(s), trainer::SampleShape::hwc(s.h, s.w, s.c), batch);
  trainer::model::StepFlags flags;
  flags.accumulate = false;
  flags.need_input_grad = s.input_grad;
  b.layer->forward_train(b.in.get(), batch, flags, b.shared);
  const auto out_count = static_cast<std::size_t>(batch * b.layer->output().size());
  std::vector<float> g(b.g.get(), b.g.get() + out_count);
  for (auto _ : state) {
    if (backward) {
      // backward turns the kept output into the pre-activation gradient and may overwrite g:
      // start each round from the same forward pass and output gradient.
      state.PauseTiming();
      b.layer->forward_train(b.in.get(), batch, flags, b.shared);
      std::copy(g.begin(), g.end(), b.g.get());
      state.ResumeTiming();
      benchmark::DoNotOptimize(b.layer->backward(b.in.get(), b.g.get(), batch, flags, b.shared));
    } else {
      benchmark::DoNotOptimize(b.layer->forward_train(b.in.get(), batch, flags, b.shared));
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["GFLOP/s"] = benchmark::Counter(conv_flops(s, backward) * double(batch) * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void run_pool(benchmark::State& state, const Shape& s, bool backward) {
  const Index batch = state.range(0);
  trainer::set_compute_threads(static_cast<int>(state.range(1)));
  trainer::LayerConfig l;
  l.type = trainer::LayerConfig::Type::max_pool2d;
  l.size = l.stride = {2, 2};
  Bench b(l, trainer::SampleShape::hwc(s.h, s.w, s.filters), batch);
  trainer::model::StepFlags flags;
  b.layer->forward_train(b.in.get(), batch, flags, b.shared);
  for (auto _ : state) {
    if (backward)
      benchmark::DoNotOptimize(b.layer->backward(b.in.get(), b.g.get(), batch, flags, b.shared));
    else
      benchmark::DoNotOptimize(b.layer->forward_train(b.in.get(), batch, flags, b.shared));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

// configs/fashion-mnist-cnn.json's model.
trainer::ModelConfig fashion_cnn() {
  trainer::ModelConfig m;
  auto layer = [&m](trainer::LayerConfig::Type type) -> trainer::LayerConfig& {
    m.layers.emplace_back();
    m.layers.back().type = type;
    return m.layers.back();
  };
  layer(trainer::LayerConfig::Type::conv2d) = conv(kConv1);
  layer(trainer::LayerConfig::Type::max_pool2d).size = {2, 2};
  m.layers.back().stride = {2, 2};
  layer(trainer::LayerConfig::Type::conv2d) = conv(kConv2);
  layer(trainer::LayerConfig::Type::max_pool2d).size = {2, 2};
  m.layers.back().stride = {2, 2};
  layer(trainer::LayerConfig::Type::flatten);
  auto& hidden = layer(trainer::LayerConfig::Type::dense);
  hidden.units = 128;
  hidden.activation = trainer::Activation::relu;
  layer(trainer::LayerConfig::Type::dense).units = 10;
  return m;
}

// One training step of the whole model on images with a blank border (as Fashion-MNIST's, whose
// all-zero steps the GEMM kernel skips) and random labels.
void BM_CnnStep(benchmark::State& state) {
  const Index batch = state.range(0);
  trainer::set_compute_threads(static_cast<int>(state.range(1)));
  trainer::Network net(fashion_cnn(), trainer::SampleShape::hwc(28, 28, 1));
  trainer::Optimizer opt(trainer::OptimizerConfig{});  // Adam, lr 1e-3
  const auto p = static_cast<std::uint64_t>(net.layout().total);
  auto params = aligned<float>(p), grads = aligned<float>(p);
  auto opt_state = aligned<float>(p * static_cast<std::uint64_t>(opt.state_per_param()));
  const std::uint64_t ws_bytes = trainer::Network::total(net.plan_train(batch));
  auto ws = aligned<std::byte>(ws_bytes);
  net.bind(params.get(), grads.get(), {ws.get(), ws_bytes}, batch, {}, 0);
  opt.bind_state({opt_state.get(), p * static_cast<std::uint64_t>(opt.state_per_param())});
  net.init_weights(42);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(batch * 784));
  std::vector<std::int32_t> y(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t r = i % 784 / 28, c = i % 28;
    x[i] = r >= 4 && r < 24 && c >= 6 && c < 22 ? value(rng) : 0.0f;
  }
  for (auto& v : y) v = static_cast<std::int32_t>(rng() % 10);
  std::uint64_t step = 0;
  for (auto _ : state) {
    auto stats = net.train_micro_batch(x.data(), y.data(), nullptr, batch, 1.0f / static_cast<float>(batch), step++,
                                       trainer::Network::Gradients::overwrite);
    opt.step({params.get(), static_cast<std::size_t>(net.layout().trainable)},
             {grads.get(), static_cast<std::size_t>(net.layout().trainable)}, 1e-3);
    benchmark::DoNotOptimize(stats);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * batch);
  // 25 MFLOP per sample: forward and weight gradient of every layer, input gradient of all but the first.
  const double flop = 2.0 * (2.0 * 28 * 28 * 32 * 9 + 3.0 * (14.0 * 14 * 64 * 288 + 3136.0 * 128 + 128.0 * 10));
  state.counters["GFLOP/s"] = benchmark::Counter(flop * double(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Conv1Forward(benchmark::State& s) { run_conv(s, kConv1, false); }
void BM_Conv1Backward(benchmark::State& s) { run_conv(s, kConv1, true); }
void BM_Conv2Forward(benchmark::State& s) { run_conv(s, kConv2, false); }
void BM_Conv2Backward(benchmark::State& s) { run_conv(s, kConv2, true); }
void BM_Pool1Forward(benchmark::State& s) { run_pool(s, kConv1, false); }
void BM_Pool1Backward(benchmark::State& s) { run_pool(s, kConv1, true); }
void BM_Pool2Forward(benchmark::State& s) { run_pool(s, kConv2, false); }
void BM_Pool2Backward(benchmark::State& s) { run_pool(s, kConv2, true); }

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"});
  for (int threads : {1, 2})
    for (int batch : {32, 128, 512}) b->Args({batch, threads});
  b->UseRealTime();
}

BENCHMARK(BM_Conv1Forward)->Apply(Args);
BENCHMARK(BM_Conv1Backward)->Apply(Args);
BENCHMARK(BM_Conv2Forward)->Apply(Args);
BENCHMARK(BM_Conv2Backward)->Apply(Args);
BENCHMARK(BM_Pool1Forward)->Apply(Args);
BENCHMARK(BM_Pool1Backward)->Apply(Args);
BENCHMARK(BM_Pool2Forward)->Apply(Args);
BENCHMARK(BM_Pool2Backward)->Apply(Args);
BENCHMARK(BM_CnnStep)->Apply(Args)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
