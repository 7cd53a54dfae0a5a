// Epoch orders and the validation split: deterministic, complete, uniform within a window, and
// read-friendly.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <map>
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

TEST_CASE("order: within a window every row is equally likely at every position", "[data]") {
  // 64 rows are one window: over many epochs each (row, position) pair comes up about equally
  // often, and a row keeps its place about once per epoch. A biased shuffle (Sattolo's
  // off-by-one never leaves a row in place) is still a permutation fixed by (seed, epoch).
  const std::int64_t n = 64;
  const std::int64_t epochs = 50 * n;
  std::vector<std::int64_t> count(static_cast<std::size_t>(n * n), 0);
  for (std::int64_t e = 0; e < epochs; ++e) {
    const auto order = epoch_order(n, 1, static_cast<std::uint64_t>(e), true);
    for (std::int64_t p = 0; p < n; ++p) ++count[static_cast<std::size_t>(order[p] * n + p)];
  }
  const double expected = static_cast<double>(epochs) / static_cast<double>(n);
  double chi2 = 0;
  for (std::int64_t c : count) chi2 += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  const double dof = static_cast<double>((n - 1) * (n - 1));
  CHECK(chi2 < dof + 5 * std::sqrt(2 * dof));
  std::int64_t kept = 0;
  for (std::int64_t r = 0; r < n; ++r) kept += count[static_cast<std::size_t>(r * n + r)];
  CHECK(std::abs(static_cast<double>(kept - epochs)) < 0.1 * static_cast<double>(epochs));
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

TEST_CASE("order: an epoch over all rows is epoch_order, over a subset a permutation of the subset", "[data]") {
  const std::int64_t n = 64 * 50 + 17;
  std::vector<std::int64_t> all(n), out(n);
  for (std::int64_t i = 0; i < n; ++i) all[i] = i;
  for (bool shuffle : {false, true}) {
    trainer::epoch_rows_into(out, all, 11, 2, shuffle);
    CHECK(out == epoch_order(n, 11, 2, shuffle));
  }
  const auto subset = trainer::validation_split(n, 0.1, 5).train;
  std::vector<std::int64_t> order(subset.size()), again(subset.size());
  trainer::epoch_rows_into(order, subset, 11, 2, false);
  CHECK(order == subset);
  trainer::epoch_rows_into(order, subset, 11, 2, true);
  trainer::epoch_rows_into(again, subset, 11, 2, true);
  CHECK(order == again);
  CHECK(order != subset);
  auto sorted = order;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == subset);
}

TEST_CASE("order: each 64-row block of the file is read within one window of 4 blocks", "[data]") {
  // What lets the prefetcher release a file block's pages soon after it is read: for a subset,
  // blocks of 64 subset positions would straddle two file blocks read at random points of the
  // epoch; for all rows of a file whose short last block lands mid-epoch, windows of a fixed 256
  // positions would split the blocks after it.
  const std::int64_t n = 64 * 400 + 17;
  std::vector<std::int64_t> all(n);
  for (std::int64_t i = 0; i < n; ++i) all[i] = i;
  for (const auto& rows : {trainer::validation_split(n, 0.1, 5).train, all}) {
    for (std::uint64_t epoch = 0; epoch < 8; ++epoch) {
      std::vector<std::int64_t> order(rows.size());
      trainer::epoch_rows_into(order, rows, 3, epoch, true);
      std::map<std::int64_t, std::pair<std::size_t, std::size_t>> span;  // file block -> first, last position
      for (std::size_t i = 0; i < order.size(); ++i) {
        auto [it, fresh] = span.try_emplace(order[i] / 64, i, i);
        if (!fresh) it->second.second = i;
      }
      std::size_t widest = 0;
      for (const auto& [block, range] : span) {
        std::set<std::int64_t> seen;
        for (std::size_t i = range.first; i <= range.second; ++i) seen.insert(order[i] / 64);
        widest = std::max(widest, seen.size());
      }
      INFO(rows.size() << " rows, epoch " << epoch);
      CHECK(widest <= 4);
    }
  }
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
