// The storage of a run, carved from one Storage block in the order of plan_storage(), and
// bound to the network and optimizer. Nothing a training or evaluation step touches lives
// anywhere else.
#pragma once

#include "trainer/optimizer.hpp"
#include "trainer/prefetcher.hpp"
#include "trainer/run_plan.hpp"
#include "trainer/storage.hpp"

namespace trainer {

struct RunState {
  Storage storage;
  std::span<float> params;     // flat, ParamLayout offsets
  std::span<float> grads;      // parallel to params
  std::span<float> opt_state;  // state_per_param * params.size()
  StagingStorage staging;  // kPrefetchDepth slots of micro_batch samples
  Staging eval_staging;
  std::span<std::int64_t> order;  // the epoch's sample order
};

// Allocates exactly the bytes of plan_storage(net, shape) and binds net (and optimizer, if given).
RunState allocate_run(Network& net, const RunShape& shape, Optimizer* optimizer);

}  // namespace trainer
