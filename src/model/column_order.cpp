// Greedy grouping of input column chunks that are zero for the same rows (column_order.hpp).
#include "column_order.hpp"

#include <algorithm>
#include <bit>
#include <vector>

namespace trainer::model {
namespace {

constexpr Index kWords = kOrderSampleRows / 64;
// A gain below this share of the product's steps does not pay for reordering.
constexpr double kMinGain = 0.02;

Index chunks_of(Index width) { return width / kChunkColumns; }

int zero_rows(const std::uint64_t* chunk) {
  int n = 0;
  for (Index w = 0; w < kWords; ++w) n += std::popcount(chunk[w]);
  return n;
}

// Calls group(first, count) for every group of chunk positions the weight gradient's micro-tiles
// read: kGroupChunks at a time from the start of each tile (the last of a tile may be shorter).
template <class Group>
void for_each_group(Index chunks, Index tile_chunks, Group&& group) {
  for (Index t0 = 0; t0 < chunks; t0 += tile_chunks) {
    const Index t1 = std::min(chunks, t0 + tile_chunks);
    for (Index g0 = t0; g0 < t1; g0 += kGroupChunks) group(g0, std::min(kGroupChunks, t1 - g0));
  }
}

}  // namespace

std::uint64_t chunk_zero_words(Index width) { return static_cast<std::uint64_t>(chunks_of(width) * kWords); }

void ChunkZeros::clear() {
  std::fill(bits, bits + chunk_zero_words(width), std::uint64_t{0});
  rows = 0;
}

void ChunkZeros::add(const float* x, Index count) {
  const Index chunks = chunks_of(width);
  for (Index r = 0; r < count && rows < kOrderSampleRows; ++r, ++rows) {
    const float* row = x + r * width;
    const std::uint64_t bit = std::uint64_t{1} << (rows & 63);
    std::uint64_t* word = bits + (rows >> 6);
    for (Index c = 0; c < chunks; ++c) {
      const float* v = row + c * kChunkColumns;
      if (v[0] == 0.0f && v[1] == 0.0f && v[2] == 0.0f && v[3] == 0.0f) word[c * kWords] |= bit;
    }
  }
}

double zero_step_share(const ChunkZeros& sample, Index tile_width, const std::int32_t* order) {
  const Index chunks = chunks_of(sample.width);
  if (sample.rows == 0 || chunks == 0 || tile_width < kChunkColumns) return 0.0;
  std::uint64_t common[kWords];
  std::uint64_t zero_steps = 0;
  for_each_group(chunks, tile_width / kChunkColumns, [&](Index g0, Index count) {
    std::fill(common, common + kWords, ~std::uint64_t{0});
    for (Index j = g0; j < g0 + count; ++j) {
      const std::uint64_t* chunk = sample.bits + (order ? order[j] : j) * kWords;
      for (Index w = 0; w < kWords; ++w) common[w] &= chunk[w];
    }
    zero_steps += static_cast<std::uint64_t>(zero_rows(common)) * static_cast<std::uint64_t>(count);
  });
  return static_cast<double>(zero_steps) / (static_cast<double>(sample.rows) * static_cast<double>(chunks));
}

bool order_chunks_by_zeros(const ChunkZeros& sample, Index tile_width, std::int32_t* order) {
  const Index chunks = chunks_of(sample.width);
  for (Index c = 0; c < chunks; ++c) order[c] = static_cast<std::int32_t>(c);
  if (sample.rows == 0 || chunks == 0 || tile_width < kChunkColumns || tile_width % kChunkColumns != 0) return false;
  const Index tile_chunks = tile_width / kChunkColumns;
  const std::uint64_t* bits = sample.bits;

  // 1. Greedy groups, the blankest first, then the chunks left over (blankest first too).
  // The chunks not placed yet are kept sorted by how many rows they are blank in (ties by index,
  // so the order is reproducible): rotating a pick to the front keeps the rest sorted.
  std::vector<std::int32_t> seq(static_cast<std::size_t>(chunks));
  for (Index c = 0; c < chunks; ++c) seq[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(c);
  std::sort(seq.begin(), seq.end(), [&](std::int32_t a, std::int32_t b) {
    const int za = zero_rows(bits + a * kWords), zb = zero_rows(bits + b * kWords);
    return za != zb ? za > zb : a < b;
  });
  Index groups = 0;
  for (Index t0 = 0; t0 < chunks; t0 += tile_chunks) groups += std::min(tile_chunks, chunks - t0) / kGroupChunks;
  std::uint64_t common[kWords];
  for (Index g = 0; g < groups; ++g) {
    const Index first = g * kGroupChunks;
    std::copy_n(bits + seq[static_cast<std::size_t>(first)] * kWords, kWords, common);
    for (Index slot = first + 1; slot < first + kGroupChunks; ++slot) {
      Index best = slot;
      if (std::any_of(common, common + kWords, [](std::uint64_t w) { return w != 0; })) {
        int best_rows = -1;
        for (Index c = slot; c < chunks; ++c) {
          const std::uint64_t* chunk = bits + seq[static_cast<std::size_t>(c)] * kWords;
          int rows = 0;
          for (Index w = 0; w < kWords; ++w) rows += std::popcount(common[w] & chunk[w]);
          if (rows > best_rows) {
            best_rows = rows;
            best = c;
          }
        }
      }
      std::rotate(seq.begin() + slot, seq.begin() + best, seq.begin() + best + 1);
      const std::uint64_t* chunk = bits + seq[static_cast<std::size_t>(slot)] * kWords;
      for (Index w = 0; w < kWords; ++w) common[w] &= chunk[w];
    }
  }

  // 2. Deal the groups to the tiles in turn, back and forth, so every tile gets blank and dense
  // groups alike; then fill each tile's short last group with the chunks left over.
  const Index tiles = (chunks + tile_chunks - 1) / tile_chunks;
  auto tile_groups = [&](Index t) { return std::min(tile_chunks, chunks - t * tile_chunks) / kGroupChunks; };
  std::vector<Index> placed(static_cast<std::size_t>(tiles), 0);
  Index next = 0;
  for (Index pass = 0; next < groups; ++pass)
    for (Index i = 0; i < tiles && next < groups; ++i) {
      const Index t = pass % 2 == 0 ? i : tiles - 1 - i;
      Index& p = placed[static_cast<std::size_t>(t)];
      if (p == tile_groups(t)) continue;
      std::copy_n(seq.begin() + next * kGroupChunks, kGroupChunks, order + t * tile_chunks + p * kGroupChunks);
      ++p;
      ++next;
    }
  Index left = groups * kGroupChunks;
  for (Index t = 0; t < tiles; ++t)
    for (Index c = t * tile_chunks + tile_groups(t) * kGroupChunks; c < std::min(chunks, (t + 1) * tile_chunks); ++c)
      order[c] = seq[static_cast<std::size_t>(left++)];

  if (zero_step_share(sample, tile_width, order) - zero_step_share(sample, tile_width, nullptr) >= kMinGain)
    return true;
  for (Index c = 0; c < chunks; ++c) order[c] = static_cast<std::int32_t>(c);
  return false;
}

}  // namespace trainer::model
