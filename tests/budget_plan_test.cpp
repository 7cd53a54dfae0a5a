#include <catch2/catch.hpp>
#include <limits>

#include "trainer/memory_plan.hpp"

using namespace trainer;

TEST_CASE("the largest items of a plan come first", "[plan]") {
  MemoryPlan plan;
  plan.add("a", "a", 10);
  plan.add("b", "b", 300);
  plan.add("c", "c", 20);
  plan.add("d", "d", 300);
  auto top = plan.largest(3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].name == "b");
  CHECK(top[1].name == "d");
  CHECK(top[2].name == "c");
  CHECK(plan.largest(10).size() == 4);
}

TEST_CASE("a plan total saturates instead of wrapping", "[plan]") {
  MemoryPlan plan;
  plan.add("huge", "huge", std::numeric_limits<std::uint64_t>::max() - 5);
  plan.add("more", "more", 100);
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
