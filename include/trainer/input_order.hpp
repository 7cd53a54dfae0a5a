// The order of the input columns a run trains in (src/model/column_order.hpp): built before
// training from a sample of the training rows, so that the first layer's weight gradient skips
// more all-zero steps and its threads get equal shares of them. Inputs are gathered in that order
// (InputTransform::chunks) and the first layer's weights and their optimizer state are kept in
// it; checkpoints and exported weights stay in the file's order, so a run's files do not depend
// on it and a resumed run builds the same order again from the same rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "trainer/column_chunks.hpp"
#include "trainer/dataset.hpp"
#include "trainer/distributed.hpp"
#include "trainer/model.hpp"

namespace trainer {

struct InputOrder {
  std::vector<std::int32_t> chunks;  // InputTransform::chunks; empty: the file's order
  double zero_share_file = 0;        // share of the weight gradient's steps skippable in the
  double zero_share_run = 0;         // file's order and in the run's, on the sample
  bool active() const { return !chunks.empty(); }
};

// Builds the order for `net` trained on micro-batches of `micro_batch` rows over `threads`
// compute threads, from the first min(rows.size(), 2048) of `rows` (in file order), gathered
// with `transform` into `staging`; their file pages are released afterwards. Empty (the file's
// order) when the first layer is not dense, the input has fewer than 32 or more than
// kMaxChunkedWidth columns, the weight gradient does not run on the packed kernel or
// its column tiles are not a multiple of 4 wide, staging holds no row, or the order would make
// less than 2% more of the gradient's steps skippable.
InputOrder build_input_order(const Network& net, const Dataset& data, std::span<const std::int64_t> rows,
                             const InputTransform& transform, std::span<float> staging, std::int64_t micro_batch,
                             int threads);

// Every rank takes rank 0's order: the ranks' gradients are summed element by element, so they
// must be laid out alike, while the order each rank builds depends on its own thread count and
// micro-batch. A no-op in a single process.
void agree_input_order(Communicator& comm, InputOrder& order, std::int64_t width);

// Moves the first layer's weights in `params`, and the same columns of every optimizer state
// block (state_per_param blocks of params.size() floats), into the run's order or back into the
// file's. A no-op for an inactive order.
enum class WeightOrder { run, file };
void move_input_weights(const Network& net, const InputOrder& order, std::span<float> params,
                        std::span<float> optimizer_state, int state_per_param, WeightOrder to);

}  // namespace trainer
