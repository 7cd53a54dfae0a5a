// What the ranks of a job must agree on: batch sizes, budgets per host, metrics, parameters.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "trainer/distributed.hpp"
#include "trainer/error.hpp"
#include "trainer/log.hpp"

namespace trainer {

BatchChoice agree_batches(Communicator& comm, BatchChoice c, const TrainingConfig& t, std::int64_t n_train) {
  if (!comm.distributed()) return c;
  const std::int64_t n = std::max<std::int64_t>(n_train, 1);
  if (t.batch_size.kind == BatchSpec::Kind::automatic) {
    // "auto" = what fits: each rank holds one micro-batch of the smallest rank's size.
    c.effective = std::min(n, comm.allreduce_min(c.micro) * comm.size());
  }
  c.micro = std::clamp<std::int64_t>(std::min(c.micro, part_of(c.effective, comm.rank(), comm.size()).count), 1, c.effective);
  return c;
}

Budget local_share(Budget b, double headroom) {
  const char* env = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const long ranks_here = env ? std::strtol(env, nullptr, 10) : 1;
  if (!b.enforced || ranks_here <= 1 || b.candidates.empty()) return b;
  const BudgetCandidate* winner = nullptr;
  for (auto& c : b.candidates) {
    if (c.source == "cgroup" || c.source == "meminfo") {
      c.bytes /= static_cast<std::uint64_t>(ranks_here);
      c.detail += ", shared by " + std::to_string(ranks_here) + " ranks on this host";
    }
    if (winner == nullptr || c.bytes < winner->bytes) winner = &c;
  }
  b.raw_bytes = winner->bytes;
  b.bytes = static_cast<std::uint64_t>(static_cast<double>(winner->bytes) * (1.0 - headroom));
  b.source = winner->source;
  return b;
}

EvalResult evaluate_sharded(Communicator& comm, Network& net, const RowSet& set,
                            const InputTransform& transform, const Staging& staging, std::int64_t eval_batch) {
  if (!comm.distributed()) return evaluate_rows(net, set, transform, staging, eval_batch);
  const Part p = part_of(set.size(), comm.rank(), comm.size());
  RowSet mine;
  mine.data = set.data;
  mine.rows.assign(set.rows.begin() + p.begin, set.rows.begin() + p.begin + p.count);
  const EvalResult local = evaluate_rows(net, mine, transform, staging, eval_batch);
  const double n = static_cast<double>(local.samples);
  double sums[3] = {local.loss * n, std::round(local.accuracy * n), n};
  comm.allreduce_sum(std::span<double>(sums));
  EvalResult r = local;
  r.samples = static_cast<std::int64_t>(sums[2]);
  r.loss = sums[2] > 0 ? sums[0] / sums[2] : 0.0;
  r.accuracy = sums[2] > 0 ? sums[1] / sums[2] : 0.0;
  return r;
}

void sum_epoch_stats(Communicator& comm, double& loss_sum, std::int64_t& correct) {
  if (!comm.distributed()) return;
  double sums[2] = {loss_sum, static_cast<double>(correct)};
  comm.allreduce_sum(std::span<double>(sums));
  loss_sum = sums[0];
  correct = static_cast<std::int64_t>(sums[1]);
}

void broadcast_from_root(Communicator& comm, std::span<float> values) {
  if (!comm.distributed()) return;
  // A sum to which the other ranks add zeros: exact, and no collective of its own to keep.
  if (comm.rank() != 0) std::fill(values.begin(), values.end(), 0.0f);
  comm.allreduce_sum(values);
}

void check_in_sync(Communicator& comm, std::span<const float> params, std::int64_t epoch) {
  if (!comm.distributed()) return;
  double sum = 0, abs_sum = 0;
  for (float p : params) {
    sum += p;
    abs_sum += std::fabs(p);
  }
  // Test hook: pretend this rank's parameters moved, to prove the check ends the job.
  if (const char* drift = std::getenv("TRAINER_TEST_DRIFT_RANK"); drift && std::atoi(drift) == comm.rank()) abs_sum += 1.0;
  // min of (x, -x) over the ranks gives min and max in one collective.
  double v[4] = {sum, abs_sum, -sum, -abs_sum};
  comm.allreduce_min(std::span<double>(v));
  const bool finite = std::isfinite(sum) && std::isfinite(abs_sum);
  if (finite && (v[0] != -v[2] || v[1] != -v[3])) {
    char detail[200];
    std::snprintf(detail, sizeof detail, "sum of |parameters| ranges from %.17g to %.17g over the %d ranks", v[1], -v[3],
                  comm.size());
    throw Error::runtime("epoch " + std::to_string(epoch), std::string("ranks drifted: ") + detail,
                         "identical parameters on every rank (report this: the same build on every host, "
                         "with the same thread count, should never drift)");
  }
}

}  // namespace trainer
