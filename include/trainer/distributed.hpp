// Data-parallel training over MPI (docs/distributed.md): the communicator of the job, the
// sharding of each effective batch over the ranks, and the collective checks of a run.
//
// Under `mpirun -np K`, every rank reads the same config, computes the same (seeded) epoch
// order, and takes its own contiguous part of every effective batch of B samples (K parts
// whose sizes differ by at most 1). Gradients are scaled by 1/B (the global batch), so one
// in-place sum over the ranks per update gives the mean gradient of the whole batch and the
// optimizer step is identical everywhere. Without mpirun (or in a build without MPI) the
// communicator has one rank and every collective is a no-op, so the same code path serves a
// single process.
//
// MPI is only initialised when the process was launched by mpirun: Open MPI's singleton
// initialisation costs about 0.6 s per command on this machine.
//
// Thread-safety: collectives are called from the main thread only (MPI_THREAD_FUNNELED).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "trainer/batch_choice.hpp"
#include "trainer/budget.hpp"
#include "trainer/evaluation.hpp"
#include "trainer/prefetcher.hpp"

namespace trainer {

class Communicator {
 public:
  // The job's communicator: K ranks under mpirun, otherwise rank 0 of 1.
  static Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }
  std::string host() const;

  // Element-wise sums over the ranks, in place; every rank gets the same result.
  void allreduce_sum(std::span<float> values);
  void allreduce_sum(std::span<double> values);
  double allreduce_sum(double value);
  std::int64_t allreduce_sum(std::int64_t value);
  std::int64_t allreduce_min(std::int64_t value);
  void allreduce_min(std::span<double> values);
  // Rank 0 receives every rank's text in rank order; other ranks receive an empty list.
  std::vector<std::string> gather(const std::string& text);
  void barrier();
  // Ends every rank of the job with `code` (MPI_Abort) after printing `message` (if any) on
  // stderr; in a single process, exits with `code`. Never returns.
  [[noreturn]] void abort_all(int code, const std::string& message);

 private:
  friend void init_distributed(int& argc, char**& argv);
  friend int finish_distributed(int code);
  int rank_ = 0;
  int size_ = 1;
  [[maybe_unused]] bool mpi_ = false;  // unused in a build without MPI
};

// Starts MPI when this process was launched by mpirun (Open MPI's OMPI_COMM_WORLD_SIZE or
// PMIx's PMIX_RANK in the environment). Call first thing in main.
void init_distributed(int& argc, char**& argv);
// Ends MPI and returns the process's exit code. A non-zero code in a job of several ranks
// aborts the whole job with it, so no other rank waits forever in a collective.
int finish_distributed(int code);

// Rank `rank`'s contiguous part [begin, begin + count) of a batch of `batch` positions split
// over `ranks` parts whose sizes differ by at most 1 (the first batch % ranks parts are larger).
struct Part {
  std::int64_t begin = 0;
  std::int64_t count = 0;
};
Part part_of(std::int64_t batch, int rank, int ranks);

// The prefetcher's batches of this rank's shard of an epoch, in the shape fit() consumes:
// each view's batch_size is the GLOBAL effective batch (so 1/batch_size is the right gradient
// scale and the sample count is the job's), and a rank whose part of a batch is empty gets one
// view with n == 0 and last_in_batch set, so every rank makes the same number of updates.
class ShardedBatches {
 public:
  ShardedBatches(Prefetcher& prefetcher, const Communicator& comm);

  // Moves this rank's parts of the effective batches of `order` (positions of the epoch, all
  // ranks holding the same order) to the front of `order`, in place, and starts the prefetcher
  // over them. drop_remainder drops the job's last partial batch. Allocates nothing.
  void start(std::span<std::int64_t> order, std::int64_t batch, std::int64_t micro, bool drop_remainder,
             std::uint64_t epoch = 0);
  std::optional<BatchView> next();

 private:
  Prefetcher& prefetcher_;
  int rank_, ranks_;
  std::int64_t batch_ = 0, used_ = 0, steps_ = 0, step_ = 0;
};

// The batch choice of one rank made consistent over the job: every rank ends with the same
// effective batch (with batch_size "auto", K times the smallest micro-batch any rank can
// hold) and a micro-batch no larger than its own part. One rank: `choice` unchanged.
BatchChoice agree_batches(Communicator& comm, BatchChoice choice, const TrainingConfig& training,
                          std::int64_t n_train);

// Ranks on one host share its RAM: the host-wide budget sources (cgroup, meminfo) are divided
// by the number of ranks on this host (OMPI_COMM_WORLD_LOCAL_SIZE), the per-process ones
// (--ram, rlimits) are not, and the smallest wins again.
Budget local_share(Budget budget, double headroom);

// Loss and accuracy over `set`, each rank evaluating its contiguous part, reduced over ranks.
EvalResult evaluate_sharded(Communicator& comm, Network& net, const RowSet& set,
                            const InputTransform& transform, const Staging& staging, std::int64_t eval_batch);

// Sums an epoch's training loss and correct count over the ranks, in place.
void sum_epoch_stats(Communicator& comm, double& loss_sum, std::int64_t& correct);

// Every rank takes rank 0's values (batch-norm running statistics: each rank's follow its own
// batches, and rank 0's are the job's, as in PyTorch's DistributedDataParallel). No-op for one rank.
void broadcast_from_root(Communicator& comm, std::span<float> values);

// Throws Error::runtime ("ranks drifted", exit 1) on every rank when the ranks' parameters
// differ, judged by the sum and the sum of absolute values in double. No-op for one rank.
void check_in_sync(Communicator& comm, std::span<const float> params, std::int64_t epoch);

}  // namespace trainer
