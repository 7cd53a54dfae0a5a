// Epoch orders and the validation split (docs/data.md describes the randomness they give).
#include <algorithm>
#include <cmath>

#include "shuffle_rng.hpp"
#include "trainer/dataset.hpp"
#include "trainer/error.hpp"

namespace trainer {
namespace {

using data_detail::ShuffleRng;

// Rows move as blocks of consecutive rows, so a shuffled epoch still reads the file in runs
// of whole pages; then rows are shuffled within windows of a few blocks.
constexpr std::int64_t kBlockRows = 64;
constexpr std::int64_t kWindowRows = 4 * kBlockRows;
constexpr std::uint64_t kSplitStream = 0xFFFFFFFFFFFFFFFFull;  // never an epoch number in practice

}  // namespace

void epoch_order_into(std::span<std::int64_t> out, std::uint64_t seed, std::uint64_t epoch, bool shuffle) {
  const auto n = static_cast<std::int64_t>(out.size());
  if (!shuffle || n < 2) {
    for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = i;
    return;
  }
  ShuffleRng rng(seed, epoch);
  const std::int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
  // The block permutation lives in the tail of `out` (no scratch): expanding block k writes only
  // positions below n - blocks + k + 1, i.e. never over block ids not yet expanded.
  auto block_ids = out.subspan(static_cast<std::size_t>(n - blocks));
  for (std::int64_t b = 0; b < blocks; ++b) block_ids[static_cast<std::size_t>(b)] = b;
  for (std::int64_t b = blocks - 1; b > 0; --b)
    std::swap(block_ids[static_cast<std::size_t>(b)],
              block_ids[rng.below(static_cast<std::uint64_t>(b + 1))]);
  std::int64_t pos = 0;
  for (std::int64_t k = 0; k < blocks; ++k) {
    const std::int64_t block = block_ids[static_cast<std::size_t>(k)];
    const std::int64_t begin = block * kBlockRows, end = std::min(n, begin + kBlockRows);
    for (std::int64_t r = begin; r < end; ++r) out[static_cast<std::size_t>(pos++)] = r;
  }
  // Fisher-Yates within each group of kWindowRows consecutive positions. Groups do not overlap,
  // so no row is carried past its group: each block is fully read within one window, which is
  // what lets the prefetcher release it (a sliding window lets stragglers drift unboundedly).
  for (std::int64_t group = 0; group < n; group += kWindowRows) {
    const std::int64_t end = std::min(n, group + kWindowRows);
    for (std::int64_t i = end - 1; i > group; --i) {
      const auto j = group + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i - group + 1)));
      std::swap(out[static_cast<std::size_t>(i)], out[static_cast<std::size_t>(j)]);
    }
  }
}

void epoch_rows_into(std::span<std::int64_t> out, std::span<const std::int64_t> rows, std::uint64_t seed,
                     std::uint64_t epoch, bool shuffle) {
  const auto n = static_cast<std::int64_t>(rows.size());
  if (static_cast<std::int64_t>(out.size()) != n)
    throw Error::runtime("epoch order", "output size differs from the number of rows");
  bool all_rows = true;
  for (std::int64_t i = 0; i < n && all_rows; ++i) all_rows = rows[static_cast<std::size_t>(i)] == i;
  if (all_rows) return epoch_order_into(out, seed, epoch, shuffle);
  if (!shuffle || n < 2) {
    std::copy(rows.begin(), rows.end(), out.begin());
    return;
  }
  // A subset (rows sorted, as a validation split leaves them): a block is the subset's rows inside
  // one 64-row block of the file. Blocks of 64 subset positions would straddle two file blocks
  // read far apart in the epoch, and the file block's pages could be released only after both.
  const auto file_block = [&](std::int64_t i) { return rows[static_cast<std::size_t>(i)] / kBlockRows; };
  std::int64_t blocks = 0;
  for (std::int64_t i = 0; i < n; ++i) blocks += i == 0 || file_block(i) != file_block(i - 1);
  // Block starts (positions in `rows`) live in the tail of `out`, as above: every block has at
  // least one row, so expanding block k never writes over the start of a later block.
  auto starts = out.subspan(static_cast<std::size_t>(n - blocks));
  for (std::int64_t i = 0, b = 0; i < n; ++i)
    if (i == 0 || file_block(i) != file_block(i - 1)) starts[static_cast<std::size_t>(b++)] = i;
  ShuffleRng rng(seed, epoch);
  for (std::int64_t b = blocks - 1; b > 0; --b)
    std::swap(starts[static_cast<std::size_t>(b)], starts[rng.below(static_cast<std::uint64_t>(b + 1))]);
  // Expand the blocks in shuffled order; every 4 blocks form a window whose rows are shuffled.
  constexpr std::int64_t kWindowBlocks = kWindowRows / kBlockRows;
  std::int64_t pos = 0, window_begin = 0;
  for (std::int64_t k = 0; k < blocks; ++k) {
    const std::int64_t start = starts[static_cast<std::size_t>(k)];
    const std::int64_t block = file_block(start);
    for (std::int64_t i = start; i < n && file_block(i) == block; ++i)
      out[static_cast<std::size_t>(pos++)] = rows[static_cast<std::size_t>(i)];
    if ((k + 1) % kWindowBlocks != 0 && k + 1 != blocks) continue;
    for (std::int64_t i = pos - 1; i > window_begin; --i) {
      const auto j = window_begin + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i - window_begin + 1)));
      std::swap(out[static_cast<std::size_t>(i)], out[static_cast<std::size_t>(j)]);
    }
    window_begin = pos;
  }
}

std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed, std::uint64_t epoch, bool shuffle) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  epoch_order_into(order, seed, epoch, shuffle);
  return order;
}

Split validation_split(std::int64_t n, double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0))
    throw Error::usage("/data/validation_split", "must be between 0 and 1, got " + std::to_string(fraction),
                       "a fraction such as 0.1");
  const auto k = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * fraction));
  Split split;
  split.validation.reserve(static_cast<std::size_t>(k));
  split.train.reserve(static_cast<std::size_t>(n - k));
  // Selection sampling (Knuth's algorithm S): exactly k rows, each k-subset equally likely,
  // emitted in ascending order without a permutation of all n rows.
  ShuffleRng rng(seed, kSplitStream);
  std::int64_t chosen = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - i))) < k - chosen) {
      split.validation.push_back(i);
      ++chosen;
    } else {
      split.train.push_back(i);
    }
  }
  return split;
}

}  // namespace trainer
