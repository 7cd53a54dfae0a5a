// The input column order of src/model/column_order.hpp: which chunks it groups, how it shares
// them between the weight gradient's tiles, when it keeps the file's order, and the moves of
// weights between the two orders.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "../src/model/column_order.hpp"

namespace {

using trainer::model::Index;

constexpr Index kRows = 512, kWidth = 200;  // 50 chunks of 4 columns

// Chunks 0, 3, 6, ... (17 of 50) are zero together in the even rows; every other value is
// nonzero. In the file's order each group of 8 chunks mixes them with others: no step is zero.
bool zero_together(Index chunk) { return chunk % 3 == 0; }
std::vector<float> inputs_with_scattered_zero_chunks() {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(0.5f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(kRows * kWidth));
  for (Index r = 0; r < kRows; ++r)
    for (Index c = 0; c < kWidth; ++c)
      x[static_cast<std::size_t>(r * kWidth + c)] = (r % 2 == 0 && zero_together(c / 4)) ? 0.0f : dist(gen);
  return x;
}

struct Sample {
  std::vector<std::uint64_t> bits;
  trainer::model::ChunkZeros zeros;
  explicit Sample(const std::vector<float>& x, Index width) : bits(trainer::model::chunk_zero_words(width)) {
    zeros = {bits.data(), width};
    zeros.clear();
    const Index rows = static_cast<Index>(x.size()) / width;
    zeros.add(x.data(), rows / 2);  // in two pieces, as fit gathers them
    zeros.add(x.data() + rows / 2 * width, rows - rows / 2);
  }
};

bool is_permutation(const std::vector<std::int32_t>& order) {
  std::vector<std::int32_t> sorted = order, identity(order.size());
  std::sort(sorted.begin(), sorted.end());
  std::iota(identity.begin(), identity.end(), 0);
  return sorted == identity;
}

bool all_zero_together(const std::vector<std::int32_t>& order, Index from, Index count) {
  return std::all_of(order.begin() + from, order.begin() + from + count,
                     [](std::int32_t c) { return zero_together(c); });
}

}  // namespace

TEST_CASE("The column order groups chunks that are zero in the same rows, 8 to a micro-tile", "[model]") {
  using namespace trainer::model;
  const Sample s(inputs_with_scattered_zero_chunks(), kWidth);
  REQUIRE(s.zeros.rows == kRows);
  std::vector<std::int32_t> order(kWidth / 4);
  REQUIRE(order_chunks_by_zeros(s.zeros, kWidth, order.data()));
  CHECK(is_permutation(order));
  // 17 chunks zero together make two full groups, at positions 0-7 and 8-15 of the one tile.
  CHECK(all_zero_together(order, 0, 16));
  // Each is zero in half of the rows: 2 groups x 8 chunks of 50, in 256 of 512 rows.
  CHECK(zero_step_share(s.zeros, kWidth, order.data()) == Approx(16.0 / 50 / 2));
  CHECK(zero_step_share(s.zeros, kWidth, nullptr) == 0.0);
}

TEST_CASE("The column order deals its blank groups to the weight gradient's tiles in turn", "[model]") {
  using namespace trainer::model;
  const Sample s(inputs_with_scattered_zero_chunks(), kWidth);
  std::vector<std::int32_t> order(kWidth / 4);
  // Tiles of 100 columns (25 chunks, three full groups each): one blank group for each tile,
  // so the threads that own them skip equal shares of the work.
  REQUIRE(order_chunks_by_zeros(s.zeros, 100, order.data()));
  CHECK(is_permutation(order));
  CHECK(all_zero_together(order, 0, 8));
  CHECK(all_zero_together(order, 25, 8));
  CHECK_FALSE(all_zero_together(order, 8, 8));
  CHECK(zero_step_share(s.zeros, 100, order.data()) == Approx(16.0 / 50 / 2));
}

TEST_CASE("The column order deals groups back and forth, so each tile gets blank and less blank ones", "[model]") {
  using namespace trainer::model;
  // Three sets of 8 chunks, blank in 1/2, 1/3 and 1/4 of the rows, the rest never blank, in
  // 64-column tiles of 2 groups: the greedy takes them in that order and deals them to tiles
  // 0, 1, 1 (then 0). Round robin would give the least blank set to tile 0, with the blankest.
  const Index width = 128, rows = 600;
  auto set_of = [](Index chunk) { return chunk % 4; };  // sets 0, 1, 2; chunks with 3 are never blank
  std::vector<float> x(static_cast<std::size_t>(rows * width), 1.0f);
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < width; ++c) {
      const Index set = set_of(c / 4);
      if ((set == 0 && r % 2 == 0) || (set == 1 && r % 3 == 0) || (set == 2 && r % 4 == 0))
        x[static_cast<std::size_t>(r * width + c)] = 0.0f;
    }
  std::vector<std::int32_t> order(width / 4);
  REQUIRE(order_chunks_by_zeros(Sample(x, width).zeros, 64, order.data()));
  auto group_set = [&](Index first) {
    const Index set = set_of(order[static_cast<std::size_t>(first)]);
    for (Index j = first; j < first + 8; ++j)
      if (set_of(order[static_cast<std::size_t>(j)]) != set) return Index{-1};
    return set;
  };
  CHECK(group_set(0) == 0);   // tile 0: the blankest
  CHECK(group_set(16) == 1);  // tile 1: the next two
  CHECK(group_set(24) == 2);
}

TEST_CASE("Inputs whose zeros do not line up better keep the file's column order", "[model]") {
  using namespace trainer::model;
  std::vector<std::int32_t> order(kWidth / 4, -1), identity(kWidth / 4);
  std::iota(identity.begin(), identity.end(), 0);
  std::mt19937 gen(2);
  std::uniform_real_distribution<float> dist(0.5f, 1.0f);
  std::vector<float> dense(static_cast<std::size_t>(kRows * kWidth));
  for (auto& v : dense) v = dist(gen);
  CHECK_FALSE(order_chunks_by_zeros(Sample(dense, kWidth).zeros, kWidth, order.data()));
  CHECK(order == identity);
  // Zeros already grouped (the first 32 columns blank in every other row) gain nothing either.
  std::vector<float> grouped = dense;
  for (Index r = 0; r < kRows; r += 2) std::fill_n(grouped.begin() + r * kWidth, 32, 0.0f);
  order.assign(order.size(), -1);
  CHECK_FALSE(order_chunks_by_zeros(Sample(grouped, kWidth).zeros, kWidth, order.data()));
  CHECK(order == identity);
  // A tile width that splits chunks cannot be followed.
  order.assign(order.size(), -1);
  CHECK_FALSE(order_chunks_by_zeros(Sample(inputs_with_scattered_zero_chunks(), kWidth).zeros, 98, order.data()));
  CHECK(order == identity);
}

TEST_CASE("Rows move between the file's column order and a run's, 4 columns at a time", "[model]") {
  const Index rows = 3, width = 14;  // 3 chunks and a tail of 2 columns
  std::vector<float> m(static_cast<std::size_t>(rows * width));
  std::iota(m.begin(), m.end(), 0.0f);
  const std::vector<float> file = m;
  const std::vector<std::int32_t> order = {2, 0, 1};
  auto move_all = [&](trainer::ChunksTo to) {
    for (Index r = 0; r < rows; ++r) {
      const std::vector<float> copy(m.begin() + r * width, m.begin() + (r + 1) * width);
      trainer::move_chunks(m.data() + r * width, copy.data(), order, to);
    }
  };
  move_all(trainer::ChunksTo::run_order);
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < 3; ++c)
      for (Index j = 0; j < 4; ++j) {
        INFO("row " << r << ", chunk " << c << ", column " << j);
        CHECK(m[static_cast<std::size_t>(r * width + 4 * c + j)] ==
              file[static_cast<std::size_t>(r * width + 4 * order[static_cast<std::size_t>(c)] + j)]);
      }
  for (Index r = 0; r < rows; ++r) {
    CHECK(m[static_cast<std::size_t>(r * width + 12)] == file[static_cast<std::size_t>(r * width + 12)]);
    CHECK(m[static_cast<std::size_t>(r * width + 13)] == file[static_cast<std::size_t>(r * width + 13)]);
  }
  move_all(trainer::ChunksTo::file_order);
  CHECK(m == file);
}
