// The memory plan: every byte a run will hold, as named lines (the probe-batch breakdown),
// and the binary search over a batch size against a budget. Pure arithmetic: the network and
// the training loop supply the numbers (Network::plan_train/plan_eval for the workspace),
// this file only adds, names and searches them. The same table sizes the arena, prints the
// breakdown and answers the search, so the three cannot disagree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trainer/model.hpp"

namespace trainer {

class MemoryPlan {
 public:
  void add(std::string name, std::uint64_t bytes);
  void add(const std::vector<MemoryItem>& items);
  const std::vector<MemoryItem>& items() const { return items_; }
  // Sum of all items, saturating at the maximum instead of wrapping.
  std::uint64_t total() const;
  // The n largest items, largest first (for "budget too small" messages).
  std::vector<MemoryItem> largest(std::size_t n) const;

 private:
  std::vector<MemoryItem> items_;
};

// The numbers a training run's plan is built from. Float buffers are rounded up to 64 bytes
// each, like the aligned arena carves them.
struct TrainPlanInputs {
  std::int64_t parameters = 0;        // P, floats in the flat parameter storage
  int optimizer_slots = 0;            // k: state floats per parameter (SGD 0, momentum 1, Adam 2)
  std::vector<MemoryItem> workspace;  // Network::plan_train(b): activations, scratch, masks
  std::uint64_t staging_bytes = 0;    // input + label staging, already times the prefetch depth
  std::uint64_t eval_bytes = 0;       // evaluation buffers (Network::plan_eval + outputs)
  int threads = 1;                    // GEMM threads
  std::uint64_t gemm_scratch_per_thread = 0;  // packing scratch of one GEMM thread
  std::uint64_t baseline_bytes = 0;           // RssAnon measured at start-up
};

// Items, in order: parameters, gradients, optimizer_state (one line, k spans), the workspace
// items as named by the network, staging, eval_buffers, gemm_scratch, runtime_baseline.
MemoryPlan make_train_plan(const TrainPlanInputs& in);

std::uint64_t align64(std::uint64_t bytes);

// The largest b in [lo, hi] with bytes_for(b) <= budget, for bytes_for non-decreasing in b;
// 0 when even lo does not fit (or lo > hi). Calls bytes_for O(log(hi - lo)) times.
std::int64_t largest_fitting(std::int64_t lo, std::int64_t hi,
                             const std::function<std::uint64_t(std::int64_t)>& bytes_for,
                             std::uint64_t budget);

}  // namespace trainer
