// Zero heap allocations in the steady-state training step, proved with a process-wide
// allocation counter (replaced operator new and interposed malloc, all threads).
#include <algorithm>
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <vector>

#include "support/alloc_counter_support.hpp"
#include "support/workspace_support.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"

namespace {

// Probe allocations escape through these so the compiler cannot elide them.
std::vector<int>* volatile g_escape = nullptr;
void* volatile g_escape_raw = nullptr;

trainer::ModelConfig mlp_784_512_256_10() {
  trainer::ModelConfig m;
  m.layers = {{trainer::LayerConfig::Type::dense, 512, trainer::Activation::relu, 0.0},
              {trainer::LayerConfig::Type::dropout, 0, trainer::Activation::linear, 0.1},
              {trainer::LayerConfig::Type::dense, 256, trainer::Activation::gelu, 0.0},
              {trainer::LayerConfig::Type::dense, 10, trainer::Activation::linear, 0.0}};
  m.loss = trainer::Loss::cross_entropy;
  return m;
}

}  // namespace

TEST_CASE("the allocation counter sees new, malloc and allocations on OpenMP worker threads", "[model][real-memory]") {
  if (!alloc_counter::available()) {
    WARN("allocation counting is unavailable under AddressSanitizer");
    return;
  }
  alloc_counter::start();
  g_escape = new std::vector<int>(100);
  CHECK(alloc_counter::stop() >= 1);
  delete g_escape;

  alloc_counter::start();
  g_escape_raw = std::malloc(64);
  CHECK(alloc_counter::stop() == 1);
  std::free(g_escape_raw);

  // an allocation on another thread (the compute workers are other threads) is counted too
  std::atomic<int> phase{0};
  std::thread other([&phase] {
    while (phase.load() == 0) std::this_thread::yield();
    g_escape_raw = std::malloc(32);
    phase.store(2);
  });
  alloc_counter::start();
  phase.store(1);
  while (phase.load() != 2) std::this_thread::yield();
  CHECK(alloc_counter::stop() == 1);
  other.join();
  std::free(g_escape_raw);
}

TEST_CASE("steady-state train steps, optimizer steps and evaluation allocate nothing", "[model][real-memory]") {
  if (!alloc_counter::available()) {
    WARN("allocation counting is unavailable under AddressSanitizer");
    return;
  }
  const std::int64_t batch = 512, width = 784;
  trainer::set_compute_threads(2);
  trainer::Network net(mlp_784_512_256_10(), width);
  trainer::OptimizerConfig oc;
  oc.type = trainer::OptimizerConfig::Type::adam;
  trainer::Optimizer opt(oc);
  const auto p = static_cast<std::size_t>(net.layout().total);
  std::vector<float> params(p), grads(p), state(p * static_cast<std::size_t>(opt.state_per_param()));
  test_ws::Aligned train_ws(trainer::Network::total(net.plan_train(batch)));
  test_ws::Aligned eval_ws(trainer::Network::total(net.plan_eval(batch)));
  net.bind(params.data(), grads.data(), train_ws.span(), batch, eval_ws.span(), batch);
  net.init_weights(1);
  opt.bind_state(state);
  std::vector<float> x(static_cast<std::size_t>(batch * width)), probs(static_cast<std::size_t>(batch * 10));
  std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 10);

  auto step = [&](std::uint64_t k) {
    std::fill(grads.begin(), grads.end(), 0.0f);
    net.train_micro_batch(x.data(), labels.data(), nullptr, batch / 2, 1.0f / static_cast<float>(batch), k);
    net.train_micro_batch(x.data(), labels.data(), nullptr, batch, 1.0f / static_cast<float>(batch), k);
    opt.step(params, grads, 1e-3);
  };
  step(0);  // the first steps may create the OpenMP thread team
  step(1);
  alloc_counter::start();
  for (std::uint64_t k = 2; k < 22; ++k) step(k);
  const auto stats = net.evaluate(x.data(), labels.data(), nullptr, batch, probs.data());
  const auto allocations = alloc_counter::stop();
  CHECK(allocations == 0);
  CHECK(stats.samples == batch);
  CHECK(std::isfinite(stats.loss_sum));
}

TEST_CASE("steady-state steps of conv models, with and without batch norm, allocate nothing", "[model][real-memory][image]") {
  if (!alloc_counter::available()) {
    WARN("allocation counting is unavailable under AddressSanitizer");
    return;
  }
  using trainer::LayerConfig;
  auto layer = [](LayerConfig::Type type) {
    LayerConfig l;
    l.type = type;
    return l;
  };
  auto conv = [&](std::int64_t filters, bool bias, trainer::Activation a) {
    LayerConfig l = layer(LayerConfig::Type::conv2d);
    l.filters = filters;
    l.pad_begin = l.pad_end = {1, 1};
    l.bias = bias;
    l.activation = a;
    return l;
  };
  auto batch_norm = [&] {
    LayerConfig l = layer(LayerConfig::Type::batch_norm);
    l.activation = trainer::Activation::relu;
    return l;
  };
  auto pool = [&] {
    LayerConfig l = layer(LayerConfig::Type::max_pool2d);
    l.size = l.stride = {2, 2};
    return l;
  };
  LayerConfig hidden, out;
  hidden.units = 128;
  hidden.activation = trainer::Activation::relu;
  out.units = 10;
  const auto relu = trainer::Activation::relu, linear = trainer::Activation::linear;
  trainer::ModelConfig plain, with_bn;  // the Fashion-MNIST CNN, and the same with batch norm
  plain.layers = {conv(32, true, relu), pool(), conv(64, true, relu), pool(), layer(LayerConfig::Type::flatten), hidden, out};
  with_bn.layers = {conv(32, false, linear), batch_norm(), pool(), conv(64, false, linear), batch_norm(), pool(),
                    layer(LayerConfig::Type::flatten), hidden, out};
  trainer::set_compute_threads(2);
  for (const auto* model : {&plain, &with_bn})
    for (const std::int64_t batch : {16, 96}) {
      trainer::Network net(*model, trainer::SampleShape::hwc(28, 28, 1));
      trainer::OptimizerConfig oc;
      trainer::Optimizer opt(oc);
      const auto total = static_cast<std::size_t>(net.layout().total), trainable = static_cast<std::size_t>(net.layout().trainable);
      std::vector<float> params(total), grads(trainable), state(trainable * static_cast<std::size_t>(opt.state_per_param()));
      test_ws::Aligned train_ws(trainer::Network::total(net.plan_train(batch)));
      test_ws::Aligned eval_ws(trainer::Network::total(net.plan_eval(batch)));
      net.bind(params.data(), grads.data(), train_ws.span(), batch, eval_ws.span(), batch);
      net.init_weights(1);
      opt.bind_state(state);
      std::vector<float> x(static_cast<std::size_t>(batch * 784)), probs(static_cast<std::size_t>(batch * 10));
      std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
      for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 10);
      auto step = [&](std::uint64_t k) {
        // a partial micro-batch and a full one: every size the plan covers
        net.train_micro_batch(x.data(), labels.data(), nullptr, batch / 2 + 1, 1.0f / static_cast<float>(batch), k,
                              trainer::Network::Gradients::overwrite);
        net.train_micro_batch(x.data(), labels.data(), nullptr, batch, 1.0f / static_cast<float>(batch), k);
        opt.step(std::span<float>(params).first(trainable), grads, 1e-3);
      };
      step(0);
      step(1);
      alloc_counter::start();
      for (std::uint64_t k = 2; k < 6; ++k) step(k);
      const auto stats = net.evaluate(x.data(), labels.data(), nullptr, batch, probs.data());
      const auto allocations = alloc_counter::stop();
      INFO((model == &plain ? "plain" : "with batch norm") << ", batch " << batch);
      CHECK(allocations == 0);
      CHECK(std::isfinite(stats.loss_sum));
    }
}

TEST_CASE("the GEMM packing bound covers every smaller product: partial micro-batches plan nothing extra",
          "[model]") {
  // A smaller product may pack more than a larger one (505 rows are one 505-row tile, 640 rows
  // two of 320; a depth of 256 is one slice of 256, 300 two of 150), and the memory plan is
  // built from the bound of the full micro-batch.
  struct Layer {
    std::int64_t out, in;
  };
  for (const Layer l : {Layer{512, 784}, Layer{256, 512}, Layer{10, 256}, Layer{48, 40}, Layer{32, 9}, Layer{64, 288},
                        Layer{16, 27}})
    for (int threads : {1, 2})
      for (std::int64_t full : {16, 257, 300, 640, 1100}) {
        // What the plan counts for each product (gemm_stack.cpp): the weight gradient's depth is
        // the batch, the other products' rows are.
        const auto fwd = trainer::gemm_stack_bound({full, l.out, l.in}, threads);
        const auto wgrad = trainer::gemm_stack_bound({l.out, l.in, full, true}, threads);
        const auto igrad = trainer::gemm_stack_bound({full, l.in, l.out}, threads);
        bool covered = true;
        for (std::int64_t rows = 1; rows <= full; ++rows) {
          covered = covered && trainer::gemm_tiling(rows, l.out, l.in, threads).packing_bytes <= fwd.caller;
          covered = covered && trainer::gemm_tiling(l.out, l.in, rows, threads).packing_bytes <= wgrad.caller;
          covered = covered && trainer::gemm_tiling(rows, l.in, l.out, threads).packing_bytes <= igrad.caller;
        }
        INFO(l.out << " x " << l.in << ", " << full << " rows, " << threads << " threads");
        CHECK(covered);
        CHECK(trainer::gemm_tiling(full, l.out, l.in, threads).packing_bytes <= fwd.caller);
      }
}

TEST_CASE("a weight gradient's stack bound covers every shallower product of a partial batch", "[model]") {
  // Its depth is the batch's rows: a partial batch packs with the same tiles at a smaller depth,
  // or, below the parallel threshold, as one tile on the calling thread.
  struct Shape {
    std::int64_t m, n, k;
  };
  // MLP layers, and the Fashion-MNIST CNN's convolutions (32 x 9 runs on Eigen, whose packing
  // is larger at some shallower depths than at the full one).
  for (const Shape s : {Shape{512, 784, 300}, Shape{32, 144, 2048}, Shape{64, 288, 6272}, Shape{16, 27, 1024},
                        Shape{10, 256, 700}, Shape{128, 3136, 400}, Shape{32, 9, 3000}})
    for (int threads : {1, 2}) {
      const auto bound = trainer::gemm_stack_bound({s.m, s.n, s.k, true}, threads);
      bool covered = true;
      std::uint64_t most = 0;
      for (std::int64_t k = 1; k <= s.k; ++k) {
        const auto t = trainer::gemm_tiling(s.m, s.n, k, threads);
        covered = covered && t.packing_bytes <= bound.caller && (t.threads == 1 || t.packing_bytes <= bound.worker);
        most = std::max(most, t.packing_bytes);
      }
      INFO(s.m << " x " << s.n << " x " << s.k << ", " << threads << " threads: bound " << bound.caller << ", most " << most);
      CHECK(covered);
      // Tight where it can be: the plan counts no stack the products never touch (eigen's
      // depth search ends at 4096, beyond which the bound may exceed what is packed).
      if (s.k <= 4096) CHECK(bound.caller == most);
    }
}

TEST_CASE("GEMM packing fits the stack allowance, so it never falls back to the heap", "[model]") {
  // Eigen puts a packed block on the heap (an allocation at every product) when it exceeds
  // EIGEN_STACK_ALLOCATION_LIMIT; the tiling must keep both blocks of every tile below it, for
  // any shape, and within a thread's default 8 MiB stack.
  std::uint64_t largest = 0;
  for (std::int64_t m : std::vector<std::int64_t>{1, 2, 31, 256, 2048, 65536, 1 << 24})
    for (std::int64_t n : std::vector<std::int64_t>{1, 10, 256, 784, 4096, 1 << 20})
      for (std::int64_t k : std::vector<std::int64_t>{1, 10, 784, 2048, 1 << 24})
        for (int threads : {1, 2, 8}) {
          const auto t = trainer::gemm_tiling(m, n, k, threads);
          INFO(m << " x " << n << " x " << k << " on " << threads << " threads: tile " << t.tile_m << " x " << t.tile_n
                 << (t.packed ? ", packed kernel" : ", Eigen"));
          CHECK(t.tile_m >= 1);
          CHECK(t.tile_n >= 1);
          CHECK(t.packing_bound <= trainer::kGemmStackLimit);
          largest = std::max(largest, t.packing_bound);
        }
  CHECK(largest > 64 * 1024);  // the bound is exercised by the large shapes
}
