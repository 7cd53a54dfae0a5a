#include "trainer/run_plan.hpp"

#include "trainer/storage.hpp"

namespace trainer {
namespace {

// One slot of `batch` samples: inputs and labels or targets (the prefetcher's staging ring).
std::uint64_t slot_bytes(std::int64_t batch, const RunShape& s) {
  const auto b = static_cast<std::uint64_t>(batch);
  const std::uint64_t targets = s.target_kind == TargetKind::class_ids ? 1 : static_cast<std::uint64_t>(s.target_width);
  return align_up(b * static_cast<std::uint64_t>(s.width) * sizeof(float)) + align_up(b * targets * 4);
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
  items.push_back({"training workspace", Network::total(net.plan_train(shape.micro_batch))});
  items.push_back({"evaluation workspace", Network::total(net.plan_eval(shape.eval_batch))});
  items.push_back({"input staging (x" + std::to_string(kPrefetchDepth) + " prefetch)",
                   slot_bytes(kPrefetchDepth * shape.micro_batch, shape)});
  items.push_back({"evaluation staging", staging_bytes(shape.eval_batch, shape)});
  items.push_back({"sample order", align_up(static_cast<std::uint64_t>(shape.train_rows) * sizeof(std::int64_t))});
  return items;
}

}  // namespace trainer
