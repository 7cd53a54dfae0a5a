// Forward-only passes over a set of rows: loss and accuracy of a model on a data set.
#pragma once

#include "trainer/data_sets.hpp"
#include "trainer/model.hpp"
#include "trainer/run_storage.hpp"

namespace trainer {

struct EvalResult {
  double loss = 0;      // mean over samples
  double accuracy = 0;  // fraction; meaningless for mse (has_accuracy false)
  bool has_accuracy = true;
  std::int64_t samples = 0;
};

// Runs `net` in evaluation mode over `set` in chunks of the eval staging's size.
EvalResult evaluate_rows(Network& net, const RowSet& set, const InputTransform& transform,
                         const Staging& staging, std::int64_t eval_batch);

}  // namespace trainer
