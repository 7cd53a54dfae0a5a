// The size table of a run: every byte the training and evaluation steps use, by item.
//
// The same table sizes the one Storage block a run allocates (so the steady-state step
// allocates nothing), prints the probe-batch breakdown, and answers the batch-size search.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "trainer/dataset.hpp"
#include "trainer/model.hpp"

namespace trainer {

inline constexpr int kPrefetchDepth = 2;

struct RunShape {
  std::int64_t micro_batch = 1;   // samples in memory at once for training
  std::int64_t eval_batch = 1;    // samples per forward-only pass
  std::int64_t width = 0;         // input values per sample
  std::int64_t target_width = 1;
  TargetKind target_kind = TargetKind::class_ids;
  std::int64_t train_rows = 0;    // size of the epoch order
  int optimizer_state_per_param = 0;
};

// Items whose size the run's Storage holds (parameters ... sample order), in carving order.
std::vector<MemoryItem> plan_storage(const Network& net, const RunShape& shape);

// Staging of one forward-only batch: inputs, labels or targets, and row ids.
struct Staging {
  std::span<float> x;
  std::span<std::int32_t> labels;
  std::span<float> targets;
  std::span<std::int64_t> rows;
};

}  // namespace trainer
