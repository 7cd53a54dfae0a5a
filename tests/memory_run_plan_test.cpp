// The plan's lines outside the run's Storage (run_memory.hpp): the GEMM packing scratch that
// each compute thread keeps on its stack.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "trainer/config.hpp"
#include "trainer/gemm_stack.hpp"
#include "trainer/memory_plan.hpp"
#include "trainer/model.hpp"
#include "trainer/run_memory.hpp"

using namespace trainer;

namespace {

std::uint64_t item(const MemoryPlan& plan, const std::string& key) {
  for (const auto& i : plan.items())
    if (i.key == key) return i.bytes;
  FAIL("no plan item " << key);
  return 0;
}

}  // namespace

// Every compute thread that runs a share of a product packs its tile on its own stack, and those
// pages stay resident: a plan of T threads counts the caller's packing and T - 1 workers' (the
// plan-accuracy test, at 10% and usually 2 threads, does not see one worker's share missing).
TEST_CASE("the plan counts the GEMM packing scratch of each compute thread", "[memory][plan]") {
  ModelConfig m;
  for (std::int64_t units : {512, 256, 10}) {
    LayerConfig l;
    l.units = units;
    l.activation = units == 10 ? Activation::linear : Activation::relu;
    m.layers.push_back(l);
  }
  const Network net(m, 784);
  RunShape shape;
  shape.micro_batch = 256;
  shape.eval_batch = 512;
  shape.width = 784;
  shape.train_rows = 1000;
  for (const int threads : {2, 3, 4}) {
    RuntimeCosts costs;
    costs.threads = threads;
    const GemmStacks gemm = gemm_stacks(net, shape.micro_batch, shape.eval_batch, threads);
    INFO(threads << " threads: caller " << gemm.caller << ", each worker " << gemm.worker);
    // The products of this model are large enough to be split: a worker packs something.
    REQUIRE(gemm.worker > 0);
    costs.limit = LimitKind::resident;
    CHECK(item(plan_run(net, shape, costs), "gemm_scratch") ==
          gemm.caller + static_cast<std::uint64_t>(threads - 1) * gemm.worker);
    // Under RLIMIT_AS the workers' packing lies in their stacks, counted whole as thread stacks;
    // only the calling thread's is counted here.
    costs.limit = LimitKind::rlimit_as;
    costs.thread_bytes = 8u << 20;
    const MemoryPlan as = plan_run(net, shape, costs);
    CHECK(item(as, "gemm_scratch") == gemm.caller);
    CHECK(item(as, "thread_stacks") == static_cast<std::uint64_t>(threads) * costs.thread_bytes);
  }
}
