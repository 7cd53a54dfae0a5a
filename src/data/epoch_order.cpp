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
// of whole pages; then each row is swapped within a window of a few blocks ahead of it.
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
  // Windowed Fisher-Yates: position i takes a uniform pick among the next kWindowRows positions.
  for (std::int64_t i = 0; i + 1 < n; ++i) {
    const auto span = static_cast<std::uint64_t>(std::min(kWindowRows, n - i));
    const auto j = i + static_cast<std::int64_t>(rng.below(span));
    std::swap(out[static_cast<std::size_t>(i)], out[static_cast<std::size_t>(j)]);
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
