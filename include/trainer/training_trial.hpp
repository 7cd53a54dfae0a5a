// The training steps the memory search runs in its sandboxed trial (memory_search.hpp): real
// steps at a shape over the run's data, as fit runs them.
#pragma once

#include <chrono>
#include <cstdint>

#include "trainer/config.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/memory_search.hpp"
#include "trainer/trial.hpp"

namespace trainer {

// The run's Storage, the prefetcher thread filling both staging slots from the training rows
// (augmented as fit would), two optimizer steps on micro-batches of shape.micro_batch, and one
// forward-only pass of shape.eval_batch rows of the validation (else test, else training)
// rows. `data` must outlive the returned function. REQUIRES: data.train non-empty.
TrialSteps training_trial_steps(const Config& config, const DataSets& data);

// Those steps at `shape` in a forked child under RLIMIT_DATA = data_limit (trial.hpp).
TrialResult training_trial(const Config& config, const RunShape& shape, const DataSets& data,
                           std::uint64_t data_limit, std::chrono::milliseconds timeout);

}  // namespace trainer
