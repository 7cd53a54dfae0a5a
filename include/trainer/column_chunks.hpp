// A column order that moves columns 4 at a time: the one definition of its chunks, shared by the
// gather, which writes inputs in a run's order (InputTransform::chunks), and by the moves of the
// first layer's weights between that order and the file's (trainer/input_order.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace trainer {

inline constexpr std::int64_t kChunkColumns = 4;
// The widest row a chunk order applies to: the gather moves a row through a stack copy.
inline constexpr std::int64_t kMaxChunkedWidth = 4096;

// In a run's order, chunk c of a row (columns 4c..4c+3) is the file's chunk order[c]; the last
// width % 4 columns stay last. Moves `row` from one order to the other, given `copy`, a copy of
// its content (not overlapping it) that the chunks are read from.
enum class ChunksTo { run_order, file_order };
inline void move_chunks(float* row, const float* copy, std::span<const std::int32_t> order, ChunksTo to) {
  constexpr auto bytes = static_cast<std::size_t>(kChunkColumns) * sizeof(float);
  for (std::size_t c = 0; c < order.size(); ++c) {
    const auto run = static_cast<std::size_t>(c) * kChunkColumns;
    const auto file = static_cast<std::size_t>(order[c]) * kChunkColumns;
    if (to == ChunksTo::run_order)
      std::memcpy(row + run, copy + file, bytes);
    else
      std::memcpy(row + file, copy + run, bytes);
  }
}

}  // namespace trainer
