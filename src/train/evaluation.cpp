#include "trainer/evaluation.hpp"

#include <algorithm>

namespace trainer {

EvalResult evaluate_rows(Network& net, const RowSet& set, const InputTransform& transform,
                         const Staging& staging, std::int64_t eval_batch) {
  BatchStats total;
  const std::int64_t n = set.size();
  for (std::int64_t begin = 0; begin < n; begin += eval_batch) {
    const std::int64_t count = std::min(eval_batch, n - begin);
    std::span<const std::int64_t> rows{set.rows.data() + begin, static_cast<std::size_t>(count)};
    set.data->gather(rows, transform, staging.x.data(), staging.labels.empty() ? nullptr : staging.labels.data(),
                     staging.targets.empty() ? nullptr : staging.targets.data());
    BatchStats s = net.evaluate(staging.x.data(), staging.labels.empty() ? nullptr : staging.labels.data(),
                                staging.targets.empty() ? nullptr : staging.targets.data(), count, nullptr);
    // Rows are in file order: drop the chunk's file pages, as the prefetcher does while training,
    // so an evaluation pass does not leave the data file resident.
    set.data->x().release_rows(rows.front(), rows.back() + 1, true);
    set.data->y().release_rows(rows.front(), rows.back() + 1, true);
    total.loss_sum += s.loss_sum;
    total.correct += s.correct;
    total.samples += count;
  }
  EvalResult r;
  r.samples = total.samples;
  r.has_accuracy = net.loss() != Loss::mse;
  if (total.samples > 0) {
    r.loss = total.loss_sum / static_cast<double>(total.samples);
    r.accuracy = static_cast<double>(total.correct) / static_cast<double>(total.samples);
  }
  return r;
}

}  // namespace trainer
