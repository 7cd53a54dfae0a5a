// Each rank's contiguous part of every effective batch, fed to the prefetcher.
#include <algorithm>

#include "trainer/distributed.hpp"
#include "trainer/error.hpp"

namespace trainer {

Part part_of(std::int64_t batch, int rank, int ranks) {
  const std::int64_t k = ranks, r = rank;
  const std::int64_t base = batch / k, extra = batch % k;
  return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

ShardedBatches::ShardedBatches(Prefetcher& prefetcher, const Communicator& comm)
    : prefetcher_(prefetcher), rank_(comm.rank()), ranks_(comm.size()) {}

void ShardedBatches::start(std::span<std::int64_t> order, std::int64_t batch, std::int64_t micro,
                           bool drop_remainder, std::uint64_t epoch) {
  const auto n = static_cast<std::int64_t>(order.size());
  batch_ = batch;
  steps_ = Prefetcher::batch_count(n, batch, drop_remainder);
  used_ = std::min(n, steps_ * batch);
  step_ = 0;
  // Compaction in place is safe: the write position never passes the read position, because
  // every earlier batch contributed at most its own length.
  std::int64_t w = 0;
  for (std::int64_t s = 0; s < steps_; ++s) {
    const Part p = part_of(std::min(batch, used_ - s * batch), rank_, ranks_);
    const std::int64_t from = s * batch + p.begin;
    for (std::int64_t i = 0; i < p.count; ++i) order[static_cast<std::size_t>(w++)] = order[static_cast<std::size_t>(from + i)];
  }
  // Every part but the last is the full-batch part, so the prefetcher's batches of `own`
  // samples line up with the job's effective batches; the last part is never larger.
  const std::int64_t own = part_of(batch, rank_, ranks_).count;
  if (own > 0 && w > 0) prefetcher_.start(order.first(static_cast<std::size_t>(w)), own, std::min(micro, own), false, epoch);
}

std::optional<BatchView> ShardedBatches::next() {
  if (step_ >= steps_) return std::nullopt;
  const std::int64_t global = std::min(batch_, used_ - step_ * batch_);
  BatchView view;
  if (part_of(global, rank_, ranks_).count > 0) {
    auto local = prefetcher_.next();
    // Cannot happen while the compaction above and Prefetcher agree; failing loudly beats
    // a rank that makes fewer updates than the others and hangs the job.
    if (!local) throw Error::runtime("sharded batches", "prefetcher ended before step " + std::to_string(step_ + 1));
    view = *local;
  }
  view.batch_size = global;
  if (view.last_in_batch) ++step_;
  return view;
}

}  // namespace trainer
