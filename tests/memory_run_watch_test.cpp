// Fit's watch on its resident memory: sampled every kWatchEvery steps and on demand.
#include <catch2/catch.hpp>

#include "trainer/run_memory.hpp"

using trainer::RunWatch;

TEST_CASE("RunWatch samples only every kWatchEvery steps unless forced", "[memory][watch]") {
  RunWatch watch(std::uint64_t{1} << 40, 0.05);
  watch.sample(1);
  CHECK(watch.peak() == 0);  // step 1: not a sampling step
  watch.sample(RunWatch::kWatchEvery);
  CHECK(watch.peak() > 0);   // this process holds some anonymous memory
  RunWatch forced(std::uint64_t{1} << 40, 0.05);
  forced.sample(3, true);
  CHECK(forced.peak() > 0);
}
