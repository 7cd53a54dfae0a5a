// The run's one Storage block: evaluation lies over the training workspace and the prefetcher's
// staging (they are never in use at once), so the plan counts only what evaluation needs beyond
// them, and allocate_run carves exactly the planned bytes.
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>

#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/run_storage.hpp"
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
