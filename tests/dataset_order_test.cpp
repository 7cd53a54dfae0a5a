// Epoch orders and the validation split: deterministic, complete, and read-friendly.
#include <catch2/catch.hpp>
#include <algorithm>
#include <set>

#include "../src/data/shuffle_rng.hpp"
#include "trainer/dataset.hpp"
#include "trainer/error.hpp"

using trainer::epoch_order;

TEST_CASE("order: the generator is xoshiro256** seeded by splitmix64 (published reference outputs)", "[data]") {
  std::uint64_t sm = 0;  // splitmix64's reference first output for seed 0
  CHECK(trainer::data_detail::splitmix64(sm) == 0xE220A8397B1DCDAFull);
  auto rng = trainer::data_detail::ShuffleRng::from_state({1, 2, 3, 4});
  CHECK(rng.next() == 11520u);
  CHECK(rng.next() == 0u);
  CHECK(rng.next() == 1509978240u);
  CHECK(rng.next() == 1215971899390074240ull);
}

TEST_CASE("order: without shuffle an epoch is file order", "[data]") {
  auto order = epoch_order(1000, 42, 3, false);
  for (std::int64_t i = 0; i < 1000; ++i) CHECK(order[i] == i);
}

TEST_CASE("order: a shuffled epoch is a permutation fixed by (seed, epoch)", "[data]") {
  for (std::int64_t n : {1, 2, 63, 64, 65, 1000, 4097}) {
    auto order = epoch_order(n, 42, 1, true);
    auto sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::int64_t i = 0; i < n; ++i) REQUIRE(sorted[i] == i);
    CHECK(order == epoch_order(n, 42, 1, true));
  }
  CHECK(epoch_order(1000, 42, 1, true) != epoch_order(1000, 42, 2, true));
  CHECK(epoch_order(1000, 42, 1, true) != epoch_order(1000, 43, 1, true));
  CHECK(epoch_order(1000, 42, 1, true) != epoch_order(1000, 42, 1, false));
}

TEST_CASE("order: shuffled batches read few 64-row blocks while the blocks themselves move", "[data]") {
  const std::int64_t n = 64 * 200;
  auto order = epoch_order(n, 7, 0, true);
  // Each run of 64 positions touches a bounded number of blocks (a uniform shuffle touches ~55).
  double blocks_per_run = 0;
  for (std::int64_t start = 0; start < n; start += 64) {
    std::set<std::int64_t> blocks;
    for (std::int64_t i = start; i < start + 64; ++i) blocks.insert(order[i] / 64);
    blocks_per_run += static_cast<double>(blocks.size());
  }
  blocks_per_run /= 200;
  CHECK(blocks_per_run < 20);
  // ... and the first rows of the epoch do not come from the start of the file.
  std::int64_t far = 0;
  for (std::int64_t i = 0; i < 64; ++i) far += order[i] >= 64 * 4;
  CHECK(far > 0);
}

TEST_CASE("order: validation_split is a fixed, seeded, disjoint, sorted slice", "[data]") {
  auto s = trainer::validation_split(1000, 0.1, 5);
  CHECK(s.validation.size() == 100);
  CHECK(s.train.size() == 900);
  CHECK(std::is_sorted(s.validation.begin(), s.validation.end()));
  CHECK(std::is_sorted(s.train.begin(), s.train.end()));
  std::set<std::int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.validation.begin(), s.validation.end());
  CHECK(all.size() == 1000);
  CHECK(trainer::validation_split(1000, 0.1, 5).validation == s.validation);
  CHECK(trainer::validation_split(1000, 0.1, 6).validation != s.validation);
  CHECK(s.validation.back() > 500);  // spread over the file, not its head
  CHECK_THROWS_AS(trainer::validation_split(10, 1.5, 1), trainer::Error);
}
