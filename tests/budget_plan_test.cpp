#include <catch2/catch.hpp>
#include <limits>

#include "trainer/memory_plan.hpp"

using namespace trainer;

TEST_CASE("a training plan lists every item with its bytes", "[plan]") {
  TrainPlanInputs in;
  in.parameters = 1000;  // 4000 bytes, 4032 aligned to 64
  in.optimizer_slots = 2;
  in.workspace = {{"activations", 6400}, {"backward_scratch", 1280}};
  in.staging_bytes = 3 * 512;
  in.eval_bytes = 2048;
  in.threads = 2;
  in.gemm_scratch_per_thread = 10000;
  in.baseline_bytes = 5'000'000;
  MemoryPlan plan = make_train_plan(in);

  const std::vector<std::pair<std::string, std::uint64_t>> expected = {
      {"parameters", 4032},   {"gradients", 4032},        {"optimizer_state", 8064},
      {"activations", 6400},  {"backward_scratch", 1280}, {"staging", 1536},
      {"eval_buffers", 2048}, {"gemm_scratch", 20000},    {"runtime_baseline", 5'000'000}};
  REQUIRE(plan.items().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(plan.items()[i].name == expected[i].first);
    CHECK(plan.items()[i].bytes == expected[i].second);
  }
  CHECK(plan.total() == 4032 + 4032 + 8064 + 6400 + 1280 + 1536 + 2048 + 20000 + 5'000'000);
}

TEST_CASE("the largest items of a plan come first", "[plan]") {
  MemoryPlan plan;
  plan.add("a", 10);
  plan.add("b", 300);
  plan.add("c", 20);
  plan.add("d", 300);
  auto top = plan.largest(3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].name == "b");
  CHECK(top[1].name == "d");
  CHECK(top[2].name == "c");
  CHECK(plan.largest(10).size() == 4);
}

TEST_CASE("a plan total saturates instead of wrapping", "[plan]") {
  MemoryPlan plan;
  plan.add("huge", std::numeric_limits<std::uint64_t>::max() - 5);
  plan.add("more", 100);
  CHECK(plan.total() == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("largest_fitting finds the largest batch under the budget", "[plan]") {
  int calls = 0;
  auto bytes_for = [&](std::int64_t b) {
    ++calls;
    return static_cast<std::uint64_t>(1000 + 100 * b);
  };
  CHECK(largest_fitting(1, 4096, bytes_for, 5000) == 40);  // 1000 + 100*40 = 5000
  CHECK(calls <= 14);                                      // log2(4096) + 2
  CHECK(largest_fitting(1, 4096, bytes_for, 5099) == 40);
  CHECK(largest_fitting(1, 4096, bytes_for, 5100) == 41);
  CHECK(largest_fitting(1, 30, bytes_for, 1'000'000) == 30);  // hi fits
  CHECK(largest_fitting(1, 4096, bytes_for, 1099) == 0);      // not even lo
  CHECK(largest_fitting(1, 4096, bytes_for, 1100) == 1);
  CHECK(largest_fitting(5, 4, bytes_for, 1'000'000) == 0);  // empty range
}
