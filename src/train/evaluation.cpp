#include "trainer/evaluation.hpp"

#include <algorithm>

namespace trainer {
namespace {

constexpr std::int64_t kReleasePieceRows = 64;  // rows gathered between two page releases

}  // namespace

EvalResult evaluate_rows(Network& net, const RowSet& set, const InputTransform& transform,
                         const Staging& staging, std::int64_t eval_batch) {
  BatchStats total;
  const std::int64_t n = set.size();
  for (std::int64_t begin = 0; begin < n; begin += eval_batch) {
    const std::int64_t count = std::min(eval_batch, n - begin);
    // Gathered in pieces whose file pages are dropped right after, as the prefetcher does while
    // training: the rows of a validation split are scattered, and a whole chunk of them would map
    // most of the file (every row faults in a 64 KiB window) before a single release.
    for (std::int64_t at = 0; at < count; at += kReleasePieceRows) {
      const std::int64_t piece = std::min(kReleasePieceRows, count - at);
      std::span<const std::int64_t> rows{set.rows.data() + begin + at, static_cast<std::size_t>(piece)};
      const auto offset = static_cast<std::size_t>(at);
      set.data->gather(rows, transform, staging.x.data() + offset * static_cast<std::size_t>(set.data->width()),
                       staging.labels.empty() ? nullptr : staging.labels.data() + offset,
                       staging.targets.empty() ? nullptr
                                               : staging.targets.data() + offset * static_cast<std::size_t>(set.data->target_width()));
      set.data->x().release_rows(rows.front(), rows.back() + 1, true);
      set.data->y().release_rows(rows.front(), rows.back() + 1, true);
    }
    BatchStats s = net.evaluate(staging.x.data(), staging.labels.empty() ? nullptr : staging.labels.data(),
                                staging.targets.empty() ? nullptr : staging.targets.data(), count, nullptr);
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
