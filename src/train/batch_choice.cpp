#include "trainer/batch_choice.hpp"

#include <algorithm>

namespace trainer {

BatchChoice choose_batches(const TrainingConfig& t, std::int64_t n_train, std::int64_t fit_micro,
                           std::int64_t fit_eval, std::int64_t largest_eval_set) {
  BatchChoice c;
  const std::int64_t n = std::max<std::int64_t>(n_train, 1);
  fit_micro = std::clamp<std::int64_t>(fit_micro, 1, n);
  switch (t.batch_size.kind) {
    case BatchSpec::Kind::fixed: c.effective = std::min(t.batch_size.n, n); break;
    case BatchSpec::Kind::full: c.effective = n; break;
    case BatchSpec::Kind::automatic:
      c.effective = t.micro_batch.kind == BatchSpec::Kind::fixed ? std::min(t.micro_batch.n, n) : fit_micro;
      break;
  }
  c.micro = t.micro_batch.kind == BatchSpec::Kind::fixed ? std::min(t.micro_batch.n, c.effective)
                                                         : std::min(fit_micro, c.effective);
  const std::int64_t eval_need = std::max<std::int64_t>(largest_eval_set, 1);
  c.eval = std::clamp<std::int64_t>(std::min(fit_eval, eval_need), 1, eval_need);
  return c;
}

}  // namespace trainer
