#include "trainer/memory_plan.hpp"

#include <algorithm>
#include <limits>

namespace trainer {
namespace {

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a)
    return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}

}  // namespace

std::uint64_t align64(std::uint64_t bytes) {
  return bytes > std::numeric_limits<std::uint64_t>::max() - 63
             ? std::numeric_limits<std::uint64_t>::max()
             : (bytes + 63) & ~std::uint64_t{63};
}

void MemoryPlan::add(std::string name, std::uint64_t bytes) {
  items_.push_back(MemoryItem{std::move(name), bytes});
}

void MemoryPlan::add(const std::vector<MemoryItem>& items) {
  items_.insert(items_.end(), items.begin(), items.end());
}

std::uint64_t MemoryPlan::total() const {
  std::uint64_t sum = 0;
  for (const auto& item : items_) sum = saturating_add(sum, item.bytes);
  return sum;
}

std::vector<MemoryItem> MemoryPlan::largest(std::size_t n) const {
  std::vector<MemoryItem> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const MemoryItem& a, const MemoryItem& b) { return a.bytes > b.bytes; });
  if (sorted.size() > n) sorted.resize(n);
  return sorted;
}

MemoryPlan make_train_plan(const TrainPlanInputs& in) {
  const std::uint64_t p = static_cast<std::uint64_t>(std::max<std::int64_t>(in.parameters, 0));
  const std::uint64_t span = align64(saturating_mul(p, sizeof(float)));
  MemoryPlan plan;
  plan.add("parameters", span);
  plan.add("gradients", span);
  plan.add("optimizer_state",
           saturating_mul(static_cast<std::uint64_t>(std::max(in.optimizer_slots, 0)), span));
  plan.add(in.workspace);
  plan.add("staging", in.staging_bytes);
  plan.add("eval_buffers", in.eval_bytes);
  plan.add("gemm_scratch", saturating_mul(static_cast<std::uint64_t>(std::max(in.threads, 1)),
                                          in.gemm_scratch_per_thread));
  plan.add("runtime_baseline", in.baseline_bytes);
  return plan;
}

std::int64_t largest_fitting(std::int64_t lo, std::int64_t hi,
                             const std::function<std::uint64_t(std::int64_t)>& bytes_for,
                             std::uint64_t budget) {
  if (lo > hi || bytes_for(lo) > budget) return 0;
  // Invariant: lo fits; everything above hi is known not to fit or out of range.
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (bytes_for(mid) <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

}  // namespace trainer
