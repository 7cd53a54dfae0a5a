// Choosing the batch sizes of a run from its memory budget: the plan of every byte for a
// micro-batch size, a binary search for the largest size that fits, and (unless disabled) a
// sandboxed trial that proves it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/batch_choice.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/run_plan.hpp"

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
  std::uint64_t budget_bytes = 0;     // after headroom; 0 with source "none"
  std::string budget_source;          // "--ram", "memory.ram", "cgroup", "meminfo", "rlimit_data", "rlimit_as", "none"
  std::vector<MemoryItem> breakdown;  // at the chosen micro-batch, incl. the runtime baseline
  std::uint64_t predicted_peak = 0;
  std::uint64_t measured_peak = 0;    // from the passing trial, 0 when not verified
  std::vector<TrialRecord> trials;
};

struct DataSets;

// Resolves batch_size/micro_batch for a run on `n_train` samples and the evaluation batch for
// sets of up to `largest_eval_set` samples. With `data` (fit, probe-batch) a chosen auto
// micro-batch is proven by trials of real training steps on it; without (evaluate, predict)
// only the evaluation batch matters. Throws Error::budget (exit 4) when b = 1 does not fit or a
// forced micro_batch does not fit.
BatchSearch search_batches(const Config& config, const Network& net, RunShape shape, std::int64_t n_train,
                           std::int64_t largest_eval_set, const DataSets* data = nullptr);

}  // namespace trainer
