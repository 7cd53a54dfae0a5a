// One training step (forward, backward, Adam update) of a 784-W-W/2-10 ReLU MLP, per hidden width
// and batch size, through the same Network and Optimizer that `trainer fit` uses. A regression
// in the kernels, the thread pool or the optimizer shows here as a number (issue 6).
//
//   build-bench/bench/step_bench --benchmark_min_time=0.5
//
// Counters: samples/s (items_per_second) and GFLOP/s of the step's GEMMs, so a row compares
// directly with gemm_bench's SGEMM peak.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/storage.hpp"

namespace {

constexpr std::int64_t kInputs = 784, kClasses = 10;

trainer::ModelConfig mlp(std::int64_t width) {
  trainer::ModelConfig m;
  for (std::int64_t units : {width, width / 2}) {
    trainer::LayerConfig l;
    l.units = units;
    l.activation = trainer::Activation::relu;
    m.layers.push_back(l);
  }
  trainer::LayerConfig out;
  out.units = kClasses;
  m.layers.push_back(out);
  return m;
}

// Multiply-adds of one sample's forward, backward (weights and, except for the first layer,
// inputs): the GEMM work of a step, times 2 for FLOPs.
double flops_per_sample(std::int64_t width) {
  const double l1 = double(kInputs) * double(width), l2 = double(width) * double(width / 2),
               l3 = double(width / 2) * double(kClasses);
  return 2.0 * (3.0 * (l1 + l2 + l3) - l1);
}

void BM_TrainStep(benchmark::State& state) {
  const std::int64_t width = state.range(0), batch = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  trainer::set_compute_threads(threads);
  trainer::Network net(mlp(width), kInputs);
  trainer::OptimizerConfig oc;  // Adam, lr 1e-3
  trainer::Optimizer opt(oc);
  const auto p = static_cast<std::uint64_t>(net.layout().total);
  trainer::Storage storage(p * 4 * (2 + static_cast<std::uint64_t>(opt.state_per_param())) +
                           trainer::Network::total(net.plan_train(batch)) + 4 * trainer::kAlign);
  auto params = storage.take_array<float>(p);
  auto grads = storage.take_array<float>(p);
  auto opt_state = storage.take_array<float>(p * static_cast<std::uint64_t>(opt.state_per_param()));
  auto ws = storage.take(trainer::Network::total(net.plan_train(batch)));
  net.bind(params.data(), grads.data(), ws, batch, {}, 0);
  opt.bind_state(opt_state);
  net.init_weights(42);

  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(batch * kInputs));
  std::vector<std::int32_t> y(static_cast<std::size_t>(batch));
  for (auto& v : x) v = value(rng);
  for (auto& v : y) v = static_cast<std::int32_t>(rng() % kClasses);

  std::uint64_t step = 0;
  for (auto _ : state) {
    std::memset(grads.data(), 0, grads.size_bytes());
    auto stats = net.train_micro_batch(x.data(), y.data(), nullptr, batch, 1.0f / static_cast<float>(batch), step++);
    opt.step(params, grads, 1e-3);
    benchmark::DoNotOptimize(stats);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * batch);
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_sample(width) * double(batch) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Hidden widths 128 / 512 / 1024 (the model is 512), batches 32 / 256 / 2048, 1 and 2
// threads. Real time: the step runs on several threads.
BENCHMARK(BM_TrainStep)
    ->ArgNames({"width", "batch", "threads"})
    ->ArgsProduct({{128, 512, 1024}, {32, 256, 2048}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
