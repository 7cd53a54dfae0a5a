// Prefetcher: batches in order equal direct gathers grouped by class and nonzero extent, errors
// cross the thread, staging is checked.
#include <catch2/catch.hpp>
#include <algorithm>
#include <tuple>
#include <vector>

#include "support/npy_writer.hpp"
#include "trainer/error.hpp"
#include "trainer/prefetcher.hpp"

using trainer::Dataset;
using trainer::Prefetcher;
using trainer::TargetKind;
using trainer::test::write_npy;

namespace {

struct Fixture {
  std::string x, y;
  Fixture(std::int64_t n, std::int64_t w, std::int64_t bad_label_row = -1) {
    // Nonzero values, with zeros at both ends of rows in a pattern that crosses the labels' (the
    // grouping within a class by nonzero extent shows).
    std::vector<std::uint8_t> xs(n * w);
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t j = 0; j < w; ++j) {
        const bool blank = j < r % 3 || j >= w - r / 3 % 3;
        xs[r * w + j] = blank ? 0 : static_cast<std::uint8_t>(1 + (r * w + j) * 7 % 250);
      }
    std::vector<std::int32_t> ys(n);
    for (std::int64_t i = 0; i < n; ++i) ys[i] = static_cast<std::int32_t>(i % 10);
    if (bad_label_row >= 0) ys[bad_label_row] = 10;
    x = write_npy("pf_x_" + std::to_string(n) + "_" + std::to_string(bad_label_row) + ".npy", "|u1", {n, w}, xs);
    y = write_npy("pf_y_" + std::to_string(n) + "_" + std::to_string(bad_label_row) + ".npy", "<i4", {n}, ys);
  }
};

// The grouped order the prefetcher promises: by class, then by the length and the start of the
// row's nonzero values (only without standardisation, which turns zeros into other values), then
// in epoch order.
std::vector<std::int64_t> grouped(std::vector<std::int64_t> rows, const Dataset& d, bool by_extent) {
  const std::int64_t w = d.width();
  const auto key = [&](std::int64_t r) {
    std::int64_t first = w, end = 0;
    for (std::int64_t j = 0; j < w && by_extent; ++j)
      if (d.x().element(static_cast<std::uint64_t>(r * w + j)) != 0) {
        first = std::min(first, j);
        end = j + 1;
      }
    if (end == 0) first = 0;
    return std::tuple(r % 10, end - first, first);
  };
  std::stable_sort(rows.begin(), rows.end(), [&](std::int64_t a, std::int64_t b) { return key(a) < key(b); });
  return rows;
}

}  // namespace

TEST_CASE("prefetch: batches come in epoch order and equal a direct gather grouped by class and nonzero extent, last "
          "partial batch kept",
          "[data]") {
  Fixture f(1000, 7);
  auto d = Dataset::open(f.x, f.y, TargetKind::class_ids, 10);
  trainer::InputTransform scaled, standardised;
  scaled.scale = 0.5f;
  standardised.scale = 0.5f;
  standardised.mean.assign(7, 1.0f);
  standardised.inv_std.assign(7, 2.0f);
  for (const trainer::InputTransform* t : {&scaled, &standardised}) {
    const bool by_extent = t->mean.empty();
    INFO("grouped by nonzero extent within a class: " << by_extent);
    const std::int64_t max_batch = 96;
    const int depth = 3;
    std::vector<float> xs(depth * max_batch * 7);
    std::vector<std::int32_t> labels(depth * max_batch);
    std::vector<std::int64_t> rows_scratch(2 * max_batch);
    Prefetcher p(d, *t, {xs, labels, {}, rows_scratch}, max_batch, depth);
    for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
      auto order = trainer::epoch_order(1000, 9, epoch, true);
      p.start(order, 96);
      std::int64_t seen = 0, batches = 0;
      while (auto b = p.next()) {
        REQUIRE(b->first_index == seen);
        // Labels are row % 10 and extents cross them, so a wrong grouping, a lost order within a
        // class or an ignored (or wrongly used) extent shows.
        const auto rows = grouped({order.begin() + seen, order.begin() + seen + b->n}, d, by_extent);
        std::vector<float> want_x(b->n * 7);
        std::vector<std::int32_t> want_y(b->n);
        d.gather(rows, *t, want_x.data(), want_y.data(), nullptr);
        CHECK(std::vector<float>(b->x, b->x + b->n * 7) == want_x);
        CHECK(std::vector<std::int32_t>(b->labels, b->labels + b->n) == want_y);
        CHECK(std::is_sorted(want_y.begin(), want_y.end()));
        CHECK(b->targets == nullptr);
        seen += b->n;
        ++batches;
      }
      CHECK(seen == 1000);
      CHECK(batches == 11);  // 10 full batches of 96 and one of 40
      CHECK_FALSE(p.next().has_value());
    }
    auto order = trainer::epoch_order(1000, 9, 0, false);
    p.start(order, 96, true);  // drop_remainder
    std::int64_t batches = 0;
    while (auto b = p.next()) {
      CHECK(b->n == 96);
      ++batches;
    }
    CHECK(batches == 10);
  }
}

TEST_CASE("prefetch: rows wider than the key's extent field still group by class, then by coarser extent",
          "[data]") {
  // 200000 values a row: extents are compared at a resolution coarser than one value, and one
  // that spilled into the label's bits would put class 0's full rows after class 1's.
  const std::int64_t n = 24, w = 200000;
  std::vector<std::uint8_t> xs(n * w, 0);
  std::vector<std::int32_t> ys(n);
  for (std::int64_t r = 0; r < n; ++r) {
    ys[r] = static_cast<std::int32_t>(r % 2);
    // Class 0: every value set, the whole row. Class 1: one value, at a place that falls with r.
    if (r % 2 == 0)
      std::fill(xs.begin() + r * w, xs.begin() + (r + 1) * w, std::uint8_t{1});
    else
      xs[r * w + (n - r) * 8000] = 1;
  }
  auto d = Dataset::open(write_npy("pf_wide_x.npy", "|u1", {n, w}, xs), write_npy("pf_wide_y.npy", "<i4", {n}, ys),
                         TargetKind::class_ids, 2);
  trainer::InputTransform t;
  std::vector<float> staged(2 * n * w);
  std::vector<std::int32_t> labels(2 * n);
  std::vector<std::int64_t> rows_scratch(2 * n);
  Prefetcher p(d, t, {staged, labels, {}, rows_scratch}, n, 2);
  std::vector<std::int64_t> order(n);
  for (std::int64_t r = 0; r < n; ++r) order[r] = r;
  p.start(order, n);
  auto b = p.next();
  REQUIRE(b.has_value());
  // Class 0's rows first, in epoch order (equal extents); then class 1's by where their one value
  // is: the last row's comes first.
  std::vector<float> first_values, where;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = b->x + i * w;
    first_values.push_back(row[0]);
    where.push_back(static_cast<float>(std::find(row, row + w, 1.0f) - row));
  }
  CHECK(std::vector<std::int32_t>(b->labels, b->labels + n) ==
        std::vector<std::int32_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  CHECK(std::all_of(first_values.begin(), first_values.begin() + n / 2, [](float v) { return v == 1.0f; }));
  CHECK(std::is_sorted(where.begin() + n / 2, where.end()));
  CHECK(where[n / 2] == 8000.0f);
}

TEST_CASE("prefetch: an epoch can be abandoned by starting another", "[data]") {
  Fixture f(500, 3);
  auto d = Dataset::open(f.x, f.y, TargetKind::class_ids, 10);
  trainer::InputTransform t;
  std::vector<float> xs(2 * 50 * 3);
  std::vector<std::int32_t> labels(2 * 50);
  std::vector<std::int64_t> rows_scratch(2 * 50);
  // The order outlives the prefetcher: its thread may still be reading it until destruction.
  auto order = trainer::epoch_order(500, 1, 0, false);
  Prefetcher p(d, t, {xs, labels, {}, rows_scratch}, 50, 2);
  p.start(order, 50);
  REQUIRE(p.next().has_value());
  p.start(order, 25);
  auto b = p.next();
  REQUIRE(b.has_value());
  CHECK(b->first_index == 0);
  CHECK(b->n == 25);
}

TEST_CASE("prefetch: a data error in the producer thread is rethrown by next()", "[data]") {
  Fixture f(300, 2, 170);
  auto d = Dataset::open(f.x, f.y, TargetKind::class_ids, 10);
  trainer::InputTransform t;
  std::vector<float> xs(2 * 32 * 2);
  std::vector<std::int32_t> labels(2 * 32);
  std::vector<std::int64_t> rows_scratch(2 * 32);
  auto order = trainer::epoch_order(300, 1, 0, false);
  Prefetcher p(d, t, {xs, labels, {}, rows_scratch}, 32, 2);
  p.start(order, 32);
  std::int64_t good = 0;
  try {
    while (p.next()) ++good;
    FAIL("no error");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK_THAT(e.what(), Catch::Contains(f.y) && Catch::Contains("row 170"));
  }
  CHECK(good == 5);  // rows 0..159 are fine; the batch holding row 170 fails
}

TEST_CASE("prefetch: staging smaller than depth x max_batch is refused", "[data]") {
  Fixture f(100, 4);
  auto d = Dataset::open(f.x, f.y, TargetKind::class_ids, 10);
  trainer::InputTransform t;
  std::vector<float> xs(2 * 10 * 4 - 1), enough_xs(2 * 10 * 4);
  std::vector<std::int32_t> labels(2 * 10);
  std::vector<std::int64_t> rows_scratch(2 * 10), short_rows(2 * 10 - 1);
  CHECK_THROWS_AS(Prefetcher(d, t, {xs, labels, {}, rows_scratch}, 10, 2), trainer::Error);
  // With class ids, two micro-batches of row indices, where the producer groups one by class.
  CHECK_THROWS_AS(Prefetcher(d, t, {enough_xs, labels, {}, short_rows}, 10, 2), trainer::Error);
  CHECK_NOTHROW(Prefetcher(d, t, {enough_xs, labels, {}, rows_scratch}, 10, 2));
}
