// Resolving batch_size / micro_batch ("auto", "full", numbers) into the effective batch,
// the micro-batch held in memory and the evaluation batch.
#pragma once

#include <cstdint>
#include <string>

#include "trainer/config.hpp"

namespace trainer {

struct BatchChoice {
  std::int64_t effective = 1;  // samples per optimizer update
  std::int64_t micro = 1;      // samples in memory at once
  std::int64_t eval = 1;       // samples per forward-only pass
  bool accumulates() const { return micro < effective; }
};

// `largest_fitting_micro` is the largest micro-batch the memory budget allows (the caller
// searches it; pass n_train when no budget applies). `largest_fitting_eval` likewise.
BatchChoice choose_batches(const TrainingConfig& training, std::int64_t n_train,
                           std::int64_t largest_fitting_micro, std::int64_t largest_fitting_eval,
                           std::int64_t largest_eval_set);

}  // namespace trainer
