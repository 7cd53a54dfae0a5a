// Choosing the batch sizes of a run from its memory budget: the plan of every byte for a
// micro-batch size, a binary search for the largest size that fits, and (unless disabled) a
// sandboxed trial that proves it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trainer/batch_choice.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/run_storage.hpp"

namespace trainer {

struct TrialRecord {
  std::int64_t batch = 0;
  std::uint64_t predicted_bytes = 0;
  std::uint64_t measured_bytes = 0;
  bool fits = false;
  std::string note;
};

struct BatchSearch {
  BatchChoice choice;
  std::int64_t max_batch = 0;         // the largest micro-batch the plan fits in the budget,
                                      // whatever the config asks for (the training set's size
                                      // when no budget is enforced)
  std::vector<LayerSummary> layers;   // the network, layer by layer
  std::uint64_t budget_bytes = 0;     // after headroom; 0 with source "none"
  std::string budget_source;          // "--ram", "memory.ram", "cgroup", "meminfo", "rlimit_data", "rlimit_as", "none"
  std::vector<MemoryItem> breakdown;  // at the chosen micro-batch, incl. the runtime baseline
  std::uint64_t predicted_peak = 0;
  std::uint64_t measured_peak = 0;    // from the passing trial, 0 when not verified
  std::vector<TrialRecord> trials;
};

// Real training steps at a shape: the run's storage, the prefetcher, optimizer steps and an
// evaluation pass, as fit runs them. The search runs them in a forked child under the budget to
// prove a size; train/ hands them down (trainer/training_trial.hpp), since memory/ sits below it.
using TrialSteps = std::function<void(const RunShape&)>;

// Resolves batch_size/micro_batch for a run on `n_train` samples and the evaluation batch for
// sets of up to `largest_eval_set` samples; `file_rows` is the training file's row count (the
// prefetcher's counters). With `trial` (fit, probe-batch) a chosen auto micro-batch is proven by
// running it; without (evaluate, predict) only the evaluation batch matters. Throws
// Error::budget (exit 4) when b = 1 does not fit or a forced micro_batch does not fit.
BatchSearch search_batches(const Config& config, const Network& net, RunShape shape, std::int64_t n_train,
                           std::int64_t largest_eval_set, std::int64_t file_rows = 0, const TrialSteps& trial = {});

}  // namespace trainer
