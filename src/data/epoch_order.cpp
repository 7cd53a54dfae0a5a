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
// of whole pages; then rows are shuffled within windows of a few blocks (block_order_into).
constexpr std::int64_t kBlockRows = 64;
constexpr std::int64_t kWindowRows = 4 * kBlockRows;
constexpr std::uint64_t kSplitStream = 0xFFFFFFFFFFFFFFFFull;  // never an epoch number in practice

// The epoch over positions 0..n-1 whose file rows row_at(i) ascend. A block is the positions
// whose rows lie in one 64-row block of the file (all 64 when every row is used; fewer for the
// training part of a validation split), so a file block is always read within one window and
// the prefetcher can release its pages right after. Blocks go in a uniformly random order; every
// 4 consecutive blocks form a window whose rows are fully shuffled. Windows do not overlap: a
// sliding window (or a shuffle buffer) carries stragglers arbitrarily far, each keeping its
// block's pages resident.
template <class RowAt>
void block_order_into(std::span<std::int64_t> out, RowAt row_at, std::uint64_t seed, std::uint64_t epoch,
                      bool shuffle) {
  const auto n = static_cast<std::int64_t>(out.size());
  if (!shuffle || n < 2) {
    for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = row_at(i);
    return;
  }
  const auto file_block = [&](std::int64_t i) { return row_at(i) / kBlockRows; };
  const auto starts_block = [&](std::int64_t i) { return i == 0 || file_block(i) != file_block(i - 1); };
  std::int64_t blocks = 0;
  for (std::int64_t i = 0; i < n; ++i) blocks += starts_block(i);
  // The blocks' first positions live in the tail of `out` (no scratch): every block has at least
  // one row, so expanding block k writes only below n - blocks + k + 1, never over a later start.
  auto starts = out.subspan(static_cast<std::size_t>(n - blocks));
  for (std::int64_t i = 0, b = 0; i < n; ++i)
    if (starts_block(i)) starts[static_cast<std::size_t>(b++)] = i;
  ShuffleRng rng(seed, epoch);
  for (std::int64_t b = blocks - 1; b > 0; --b)
    std::swap(starts[static_cast<std::size_t>(b)], starts[rng.below(static_cast<std::uint64_t>(b + 1))]);
  constexpr std::int64_t kWindowBlocks = kWindowRows / kBlockRows;
  std::int64_t pos = 0, window_begin = 0;
  for (std::int64_t k = 0; k < blocks; ++k) {
    const std::int64_t start = starts[static_cast<std::size_t>(k)];
    const std::int64_t block = file_block(start);
    for (std::int64_t i = start; i < n && file_block(i) == block; ++i) out[static_cast<std::size_t>(pos++)] = row_at(i);
    if ((k + 1) % kWindowBlocks != 0 && k + 1 != blocks) continue;
    for (std::int64_t i = pos - 1; i > window_begin; --i) {
      const auto j = window_begin + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i - window_begin + 1)));
      std::swap(out[static_cast<std::size_t>(i)], out[static_cast<std::size_t>(j)]);
    }
    window_begin = pos;
  }
}

}  // namespace

void epoch_order_into(std::span<std::int64_t> out, std::uint64_t seed, std::uint64_t epoch, bool shuffle) {
  block_order_into(out, [](std::int64_t i) { return i; }, seed, epoch, shuffle);
}

void epoch_rows_into(std::span<std::int64_t> out, std::span<const std::int64_t> rows, std::uint64_t seed,
                     std::uint64_t epoch, bool shuffle) {
  if (out.size() != rows.size())
    throw Error::runtime("epoch order", "output size differs from the number of rows");
  block_order_into(out, [&](std::int64_t i) { return rows[static_cast<std::size_t>(i)]; }, seed, epoch, shuffle);
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
