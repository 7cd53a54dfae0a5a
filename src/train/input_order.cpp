#include "trainer/input_order.hpp"

#include <algorithm>

#include "../model/column_order.hpp"  // internal to the model: the order is the kernel's business

namespace trainer {

InputOrder build_input_order(const Network& net, const Dataset& data, std::span<const std::int64_t> rows,
                             const InputTransform& transform, std::span<float> staging, std::int64_t micro_batch,
                             int threads) {
  InputOrder order;
  const std::int64_t width = net.input_width();
  const std::int64_t chunks = width / kChunkColumns;
  if (!net.first_layer_dense() || width > kMaxChunkedWidth || chunks < model::kGroupChunks) return order;
  const TensorSlot& weights = net.layout().tensors.front();
  const GemmTiling tiling = gemm_tiling(weights.shape[0], width, micro_batch, threads);
  const std::int64_t capacity = static_cast<std::int64_t>(staging.size()) / width;
  if (!tiling.packed || tiling.tile_n % kChunkColumns != 0 || capacity < 1) return order;

  std::vector<std::uint64_t> bits(model::chunk_zero_words(width));
  model::ChunkZeros sample{bits.data(), width};
  sample.clear();
  const auto total = static_cast<std::int64_t>(std::min<std::size_t>(rows.size(), model::kOrderSampleRows));
  InputTransform file_order = transform;
  file_order.chunks.clear();
  for (std::int64_t first = 0; first < total; first += capacity) {
    const std::int64_t count = std::min(capacity, total - first);
    data.gather_inputs(rows.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(count)), file_order,
                       staging.data());
    sample.add(staging.data(), count);
  }
  if (total > 0) {
    // The epoch will read these rows again in its own order; meanwhile their pages need not stay.
    const std::int64_t first_row = rows.front(), end_row = rows[static_cast<std::size_t>(total - 1)] + 1;
    data.x().release_rows(first_row, end_row, true);
  }
  order.chunks.resize(static_cast<std::size_t>(chunks));
  const bool better = model::order_chunks_by_zeros(sample, tiling.tile_n, order.chunks.data());
  order.zero_share_file = model::zero_step_share(sample, tiling.tile_n, nullptr);
  order.zero_share_run = better ? model::zero_step_share(sample, tiling.tile_n, order.chunks.data()) : order.zero_share_file;
  if (!better) order.chunks.clear();
  return order;
}

void move_input_weights(const Network& net, const InputOrder& order, std::span<float> params,
                        std::span<float> optimizer_state, int state_per_param, WeightOrder to) {
  if (!order.active()) return;
  const TensorSlot& weights = net.layout().tensors.front();
  const auto direction = to == WeightOrder::run ? ChunksTo::run_order : ChunksTo::file_order;
  const std::int64_t rows = weights.shape[0], width = weights.shape[1];
  std::vector<float> copy(static_cast<std::size_t>(width));  // checkpoints and exports, never in a step
  auto move = [&](float* block) {
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = block + weights.offset + r * width;
      std::copy_n(row, width, copy.data());
      move_chunks(row, copy.data(), order.chunks, direction);
    }
  };
  move(params.data());
  // State blocks are parallel to the trainable parameters, which the first layer's weights lead.
  const auto block = static_cast<std::size_t>(net.layout().trainable);
  for (int s = 0; s < state_per_param; ++s) move(optimizer_state.data() + static_cast<std::size_t>(s) * block);
}

void agree_input_order(Communicator& comm, InputOrder& order, std::int64_t width) {
  if (!comm.distributed()) return;
  // A broadcast from rank 0 as a sum to which the other ranks add zeros: chunk indices (below
  // 1024) and the shares are exact in double.
  const std::int64_t chunks = width / kChunkColumns;
  std::vector<double> shared(static_cast<std::size_t>(chunks + 3), 0.0);
  if (comm.rank() == 0) {
    shared[0] = order.active() ? 1.0 : 0.0;
    shared[1] = order.zero_share_file;
    shared[2] = order.zero_share_run;
    for (std::size_t c = 0; c < order.chunks.size(); ++c) shared[c + 3] = order.chunks[c];
  }
  comm.allreduce_sum(shared);
  order.zero_share_file = shared[1];
  order.zero_share_run = shared[2];
  order.chunks.clear();
  if (shared[0] == 1.0)
    for (std::int64_t c = 0; c < chunks; ++c) order.chunks.push_back(static_cast<std::int32_t>(shared[static_cast<std::size_t>(c + 3)]));
}

}  // namespace trainer
