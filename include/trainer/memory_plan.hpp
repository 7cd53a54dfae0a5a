// The memory plan: every byte a run will hold, as named lines (the probe-batch breakdown),
// and the binary search over a batch size against a budget. Pure arithmetic: the items come
// from plan_storage() (run_storage.hpp: the exact storage the run carves) and the search's own
// lines (GEMM stack scratch, thread stacks, baseline); this file only adds, names and searches.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trainer/model.hpp"

namespace trainer {

class MemoryPlan {
 public:
  void add(std::string key, std::string name, std::uint64_t bytes);
  void add(const std::vector<MemoryItem>& items);
  const std::vector<MemoryItem>& items() const { return items_; }
  // Sum of all items, saturating at the maximum instead of wrapping.
  std::uint64_t total() const;
  // The n largest items, largest first (for "budget too small" messages).
  std::vector<MemoryItem> largest(std::size_t n) const;

 private:
  std::vector<MemoryItem> items_;
};

// The largest b in [lo, hi] with bytes_for(b) <= budget, for bytes_for non-decreasing in b;
// 0 when even lo does not fit (or lo > hi). Calls bytes_for O(log(hi - lo)) times.
std::int64_t largest_fitting(std::int64_t lo, std::int64_t hi,
                             const std::function<std::uint64_t(std::int64_t)>& bytes_for,
                             std::uint64_t budget);

}  // namespace trainer
