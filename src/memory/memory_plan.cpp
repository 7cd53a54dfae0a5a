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

}  // namespace

void MemoryPlan::add(std::string key, std::string name, std::uint64_t bytes) {
  items_.push_back(MemoryItem{std::move(key), std::move(name), bytes});
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
