#include "trainer/memory_search.hpp"

#include <algorithm>

namespace trainer {

BatchSearch search_batches(const Config& config, const Network& net, RunShape shape, std::int64_t n_train,
                           std::int64_t largest_eval_set) {
  BatchSearch s;
  s.budget_source = "none";
  s.choice = choose_batches(config.training, n_train, 256, 1024, largest_eval_set);
  shape.micro_batch = s.choice.micro;
  shape.eval_batch = s.choice.eval;
  s.breakdown = plan_storage(net, shape);
  s.predicted_peak = Network::total(s.breakdown);
  return s;
}

}  // namespace trainer
