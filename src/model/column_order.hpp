// An order of the input's columns in which their zeros line up, for the first layer's weight
// gradient, and the moves of the first layer's weights between that order and the file's.
//
// The packed kernel skips a depth step of the weight gradient dw = dz^T x when the 32 input
// columns one micro-tile reads are all zero for that sample. In an image, 32 neighbouring pixels
// are rarely blank together (13% of Fashion-MNIST's steps); 32 pixels chosen for being blank
// together are (27%). A run may therefore read its inputs with their columns in such an order and
// keep the first layer's weights (and their optimizer state) in the same order: the network
// computes the same function, only each sum over the inputs is added in another order.
// Checkpoints and exported weights stay in the file's order.
//
// Columns move in chunks of 4 (trainer/column_chunks.hpp), so that the gather copies 16 bytes at a time instead of permuting
// single values. Chunks are grouped 8 at a time (32 columns) from the start of each of the weight
// gradient's column tiles, and the groups are dealt to the tiles in turn (0, 1, 1, 0, 0, 1, ...),
// so that threads, which own whole tiles, get equal shares of the skippable work: without that,
// the first tile would hold the blank groups and its thread would wait for the other.
//
// The order is built once per run, greedily, from a sample of rows: each group starts from the
// chunk blank in the most rows and adds, one at a time, the chunk blank together with the group in
// the most rows. It is taken only when it skips clearly more than the file's order.
#pragma once

#include <cstdint>
#include "trainer/column_chunks.hpp"

namespace trainer::model {

using Index = std::int64_t;

inline constexpr Index kGroupChunks = 8;  // 32 columns: one micro-tile of the weight gradient
// Rows of the sample the order is built from.
inline constexpr Index kOrderSampleRows = 2048;

// 64-bit words of the sample of a `width`-column input (ChunkZeros::bits).
std::uint64_t chunk_zero_words(Index width);

// Which 4-column chunks of the sampled rows are all zero: one bit per (chunk, row).
struct ChunkZeros {
  std::uint64_t* bits = nullptr;  // chunk_zero_words(width) words
  Index width = 0;
  Index rows = 0;  // sampled so far, at most kOrderSampleRows
  void clear();
  // Adds rows x[count, width] (row-major) to the sample, as many as it still takes.
  void add(const float* x, Index count);
};

// Fills order[0, width / 4) with a permutation of the chunks for a weight gradient whose column
// tiles are tile_width wide (a multiple of 4), and returns whether it skips at least 2% more of
// the product's steps on the sample than the file's order; if not, order is the identity.
// Runs once per run, before training (~5 ms for 784 columns); allocates two arrays of `width / 4`.
bool order_chunks_by_zeros(const ChunkZeros& sample, Index tile_width, std::int32_t* order);

// Share of a weight gradient's steps with this chunk order (null: the file's) whose group of
// columns is all zero in the sample.
double zero_step_share(const ChunkZeros& sample, Index tile_width, const std::int32_t* order);

}  // namespace trainer::model
