// The storage of a run: every byte the training and evaluation steps use, as one Storage block
// carved in one pass. The same pass, run without memory, is the plan: plan_storage() lists the
// items that allocate_run() carves, in the same order and with the same bytes, so the storage
// cannot outgrow the plan (the steady-state step allocates nothing) and the plan misses nothing.
// It sizes the one Storage block, prints the probe-batch breakdown, and answers the batch search.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "trainer/dataset.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/prefetcher.hpp"
#include "trainer/storage.hpp"

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

// Staging of one forward-only batch: inputs, labels or targets, and row ids.
struct Staging {
  std::span<float> x;
  std::span<std::int32_t> labels;
  std::span<float> targets;
  std::span<std::int64_t> rows;
};

struct RunState {
  Storage storage;
  std::vector<MemoryItem> items;  // what was carved, by item: equal to plan_storage()
  std::span<float> params;     // flat, ParamLayout offsets (trainable tensors, then buffers)
  std::span<float> grads;      // the trainable prefix of params
  std::span<float> opt_state;  // state_per_param * grads.size()
  StagingStorage staging;      // kPrefetchDepth slots of micro_batch samples
  Staging eval_staging;
  std::span<std::int64_t> order;  // the epoch's sample order
};

// Items of the run's storage (parameters ... sample order), in carving order, with stable keys:
// parameters, gradients, optimizer_state, the network's training items (activations, gradient,
// workspace, dropout_masks, batch_norm_statistics), input_staging, evaluation, sample_order.
std::vector<MemoryItem> plan_storage(const Network& net, const RunShape& shape);

// Allocates exactly the bytes of plan_storage(net, shape) and binds net (and optimizer, if given).
RunState allocate_run(Network& net, const RunShape& shape, Optimizer* optimizer);

}  // namespace trainer
