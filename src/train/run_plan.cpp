#include "trainer/run_plan.hpp"

#include "trainer/storage.hpp"

namespace trainer {
namespace {

// The prefetcher's staging ring of `slots` slots of `batch` samples: inputs and labels or
// targets, and with labels two micro-batches of row indices (it orders a micro-batch by class).
std::uint64_t ring_bytes(std::int64_t slots, std::int64_t batch, const RunShape& s) {
  const auto b = static_cast<std::uint64_t>(slots * batch);
  const bool ids = s.target_kind == TargetKind::class_ids;
  const std::uint64_t targets = ids ? 1 : static_cast<std::uint64_t>(s.target_width);
  return align_up(b * static_cast<std::uint64_t>(s.width) * sizeof(float)) + align_up(b * targets * 4) +
         (ids ? align_up(2 * static_cast<std::uint64_t>(batch) * sizeof(std::int64_t)) : 0);
}

std::uint64_t staging_bytes(std::int64_t batch, const RunShape& s) {
  const auto b = static_cast<std::uint64_t>(batch);
  std::uint64_t bytes = align_up(b * static_cast<std::uint64_t>(s.width) * sizeof(float));
  if (s.target_kind == TargetKind::class_ids) {
    bytes += align_up(b * sizeof(std::int32_t));
  } else {
    bytes += align_up(b * static_cast<std::uint64_t>(s.target_width) * sizeof(float));
  }
  bytes += align_up(b * sizeof(std::int64_t));
  return bytes;
}

}  // namespace

std::vector<MemoryItem> plan_storage(const Network& net, const RunShape& shape) {
  const auto p = static_cast<std::uint64_t>(net.layout().total) * sizeof(float);
  std::vector<MemoryItem> items;
  items.push_back({"parameters", align_up(p)});
  items.push_back({"gradients", align_up(p)});
  items.push_back({"optimizer state", align_up(p * static_cast<std::uint64_t>(shape.optimizer_state_per_param))});
  // Evaluation runs between training steps, never during one, so its workspace and staging
  // reuse the training workspace and the prefetcher's staging: only what exceeds them is extra.
  const std::uint64_t train_bytes = Network::total(net.plan_train(shape.micro_batch));
  const std::uint64_t input_bytes = ring_bytes(kPrefetchDepth, shape.micro_batch, shape);
  const std::uint64_t eval_bytes = Network::total(net.plan_eval(shape.eval_batch)) + staging_bytes(shape.eval_batch, shape);
  items.push_back({"training workspace", train_bytes});
  items.push_back({"input staging (x" + std::to_string(kPrefetchDepth) + " prefetch)", input_bytes});
  items.push_back({"evaluation beyond the training buffers it reuses",
                   eval_bytes > train_bytes + input_bytes ? eval_bytes - train_bytes - input_bytes : 0});
  items.push_back({"sample order", align_up(static_cast<std::uint64_t>(shape.train_rows) * sizeof(std::int64_t))});
  return items;
}

}  // namespace trainer
