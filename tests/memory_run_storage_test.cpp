// The run's one Storage block: evaluation lies over the training workspace and the prefetcher's
// staging (they are never in use at once), so the plan counts only what evaluation needs beyond
// them, and allocate_run carves exactly the planned bytes.
#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/run_storage.hpp"
#include "trainer/sample_shape.hpp"
#include "trainer/storage.hpp"

using namespace trainer;

namespace {

ModelConfig mlp_784_512_256_10() {
  ModelConfig m;
  for (std::int64_t units : {512, 256}) {
    LayerConfig l;
    l.units = units;
    l.activation = Activation::relu;
    m.layers.push_back(l);
  }
  LayerConfig out;
  out.units = 10;
  m.layers.push_back(out);
  return m;
}

std::uint64_t item(const std::vector<MemoryItem>& items, const std::string& key) {
  for (const auto& i : items)
    if (i.key == key) return i.bytes;
  FAIL("no plan item " << key);
  return 0;
}

// The network's own training items (activations, gradient buffer, ...): the training workspace.
std::uint64_t training_workspace(const Network& net, std::int64_t batch) { return Network::total(net.plan_train(batch)); }

}  // namespace

TEST_CASE("storage: seeking back overlays the next regions, bad offsets are refused", "[memory][storage]") {
  Storage s(1024);
  auto first = s.take(256);
  const auto end = s.used();
  s.seek(0);
  auto overlay = s.take(128);
  CHECK(overlay.data() == first.data());
  s.seek(end);
  CHECK(s.take(64).data() == first.data() + 256);
  CHECK_THROWS_AS(s.seek(100), std::logic_error);   // not 64-aligned
  CHECK_THROWS_AS(s.seek(2048), std::logic_error);  // past the block
}

TEST_CASE("run storage: evaluation reuses the training buffers and only its excess is planned", "[memory][storage]") {
  Network net(mlp_784_512_256_10(), 784);
  OptimizerConfig oc;
  Optimizer opt(oc);
  RunShape shape;
  shape.width = 784;
  shape.train_rows = 60000;
  shape.optimizer_state_per_param = opt.state_per_param();

  SECTION("an evaluation batch no larger than the micro-batch costs nothing extra") {
    shape.micro_batch = 2048;
    shape.eval_batch = 2048;
    const auto items = plan_storage(net, shape);
    CHECK(item(items, "evaluation") == 0);
    const std::uint64_t eval_alone = Network::total(net.plan_eval(2048)) + 2048 * (784 * 4 + 4 + 8);
    RunState st = allocate_run(net, shape, &opt);
    CHECK(st.storage.used() == st.storage.size());
    CHECK(st.storage.size() == Network::total(items));
    // The evaluation inputs lie in the bytes of the prefetcher's staging and the training workspace.
    const auto* lo = reinterpret_cast<const std::byte*>(st.opt_state.data() + st.opt_state.size());
    const auto* hi = reinterpret_cast<const std::byte*>(st.order.data());
    const auto* eval_x = reinterpret_cast<const std::byte*>(st.eval_staging.x.data());
    CHECK(eval_x >= lo);
    CHECK(eval_x + st.eval_staging.x.size_bytes() <= hi);
    CHECK(hi - lo < static_cast<std::ptrdiff_t>(training_workspace(net, shape.micro_batch) + item(items, "input_staging") +
                                                eval_alone));
  }

  SECTION("a larger evaluation batch adds only what exceeds the training buffers") {
    shape.micro_batch = 32;
    shape.eval_batch = 1024;
    const auto items = plan_storage(net, shape);
    const std::uint64_t train = training_workspace(net, shape.micro_batch) + item(items, "input_staging");
    const std::uint64_t extra = item(items, "evaluation");
    CHECK(extra > 0);
    CHECK(extra < Network::total(net.plan_eval(1024)) + 1024 * (784 * 4 + 4 + 8));
    RunState st = allocate_run(net, shape, &opt);
    CHECK(st.storage.used() == st.storage.size());
    CHECK(st.storage.size() == Network::total(items));
    CHECK(train + extra >= Network::total(net.plan_eval(1024)));
  }
}

namespace {

// A config's model, loaded as a user would write it (the data files are not opened).
ModelConfig model_of(const std::string& layers) {
  return load_config_text(R"({"data": {"train": {"x": "x.npy", "y": "y.npy"}}, "model": {"layers": )" + layers + "}}",
                          "run.json", "/base")
      .model;
}

// Whether span s lies inside the `bytes` bytes from `base`.
template <class T>
bool inside(std::span<T> s, const std::byte* base, std::uint64_t bytes) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return s.empty() || (p >= base && p + s.size_bytes() <= base + bytes);
}

}  // namespace

// Issue 20: a buffer the run allocates but the plan leaves out (the sample order, 8 bytes a
// training row: 80 MB at ten million rows) goes unseen by a tolerance on the measured peak. The
// storage the run carves and the plan must be the same items, byte for byte, and every buffer
// of the run must lie in the one block the plan sized.
TEST_CASE("run storage: allocate_run carves exactly the items of plan_storage, every buffer inside its block",
          "[memory][storage]") {
  struct Case {
    const char* name;
    SampleShape input;
    std::string layers;
  };
  const std::vector<Case> cases = {
      {"mlp with dropout", SampleShape::flat(64),
       R"([{"type": "dense", "units": 128, "activation": "relu"}, {"type": "dropout", "rate": 0.2},
           {"type": "dense", "units": 10}])"},
      {"cnn with batch norm", SampleShape::hwc(28, 28, 1),
       R"([{"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "bias": false},
           {"type": "batch_norm", "activation": "relu"}, {"type": "max_pool2d", "size": 2}, {"type": "flatten"},
           {"type": "dense", "units": 10}])"},
  };
  OptimizerConfig oc;
  Optimizer opt(oc);
  for (const Case& c : cases) {
    Network net(model_of(c.layers), c.input);
    // The micro-batch and the evaluation batch either way round: evaluation overlays training
    // or exceeds it.
    for (const auto& [micro, eval] : {std::pair<std::int64_t, std::int64_t>{64, 16}, {16, 200}}) {
      RunShape shape;
      shape.micro_batch = micro;
      shape.eval_batch = eval;
      shape.width = c.input.size();
      shape.train_rows = 100000;
      shape.optimizer_state_per_param = opt.state_per_param();
      INFO(c.name << ", micro-batch " << micro << ", evaluation batch " << eval);
      const std::vector<MemoryItem> plan = plan_storage(net, shape);
      RunState st = allocate_run(net, shape, &opt);

      REQUIRE(st.items.size() == plan.size());
      for (std::size_t i = 0; i < plan.size(); ++i) {
        INFO("item " << i << ": planned " << plan[i].key << " " << plan[i].bytes << ", carved " << st.items[i].key << " "
                     << st.items[i].bytes);
        CHECK(st.items[i].key == plan[i].key);
        CHECK(st.items[i].name == plan[i].name);
        CHECK(st.items[i].bytes == plan[i].bytes);
      }
      CHECK(st.storage.size() == Network::total(plan));
      CHECK(st.storage.used() == st.storage.size());
      // The per-row item the issue names: 8 bytes per training row.
      CHECK(item(plan, "sample_order") == align_up(static_cast<std::uint64_t>(shape.train_rows) * sizeof(std::int64_t)));

      // Parameters are carved first: their address is the block's start.
      const auto* base = reinterpret_cast<const std::byte*>(st.params.data());
      const std::uint64_t size = st.storage.size();
      CHECK(inside(st.params, base, size));
      CHECK(inside(st.grads, base, size));
      CHECK(inside(st.opt_state, base, size));
      CHECK(inside(st.staging.x, base, size));
      CHECK(inside(st.staging.labels, base, size));
      CHECK(inside(st.staging.rows, base, size));
      CHECK(inside(st.eval_staging.x, base, size));
      CHECK(inside(st.eval_staging.labels, base, size));
      CHECK(inside(st.eval_staging.rows, base, size));
      CHECK(st.order.size() == static_cast<std::size_t>(shape.train_rows));
      CHECK(inside(st.order, base, size));
    }
  }
}
