// Prefetcher: one background thread that gathers the next batches of an epoch into caller-owned
// staging slots while the caller trains on the current one.
//
// Ownership: the caller owns the Dataset, the InputTransform, the staging storage (sized by the
// memory plan, plan_storage() in run_storage.hpp) and the epoch order passed to start(); all must
// outlive the epoch. The Prefetcher owns its thread.
// Batches come out in order; a view returned by next() stays valid until the following next()
// or start(). After gathering a batch the producer releases (madvise) the file pages of every
// 64-row block of the order it has fully read, so streaming a file larger than RAM keeps
// resident memory flat. Steady state allocates nothing (a mutex and a condition variable).
// An Error thrown while gathering (e.g. a label out of range) is rethrown by next().
//
// With class ids, the samples of each micro-batch come grouped by class (ascending), within a
// class by the extent of their nonzero values (NpyArray::nonzero_extent: its length, then its
// start), and in epoch order where those tie. A micro-batch holds the same samples either way and
// its gradient is a sum over them, so only rounding changes; but samples of one class and one
// shape share their blank pixels and their inactive ReLU units, so the GEMM kernel finds nearly 3x
// more all-zero steps to skip (packed_gemm.hpp, docs/data.md). Dropout masks are drawn per
// position, as before.
//
// Thread-safety: start() and next() are called from one consumer thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "trainer/augment.hpp"
#include "trainer/dataset.hpp"

namespace trainer {

// One batch in staging storage: x is [n, width] row-major; labels [n] (class ids) or
// targets [n, target_width] (values), the other null.
struct BatchView {
  const float* x = nullptr;
  const std::int32_t* labels = nullptr;
  const float* targets = nullptr;
  std::int64_t n = 0;
  std::int64_t first_index = 0;  // position in the epoch order of the batch's first sample
  std::int64_t batch_size = 0;   // samples of the effective batch this micro-batch belongs to
  bool last_in_batch = true;     // the effective batch is complete after this micro-batch
};

// Caller-owned staging for `depth` slots of up to max_batch samples each:
// x: depth*max_batch*width floats; labels: depth*max_batch (class ids, else may be empty);
// targets: depth*max_batch*target_width floats (values, else may be empty);
// rows: 2*max_batch (class ids, else may be empty), where the producer orders a micro-batch by
// class.
struct StagingStorage {
  std::span<float> x;
  std::span<std::int32_t> labels;
  std::span<float> targets;
  std::span<std::int64_t> rows;
};

class Prefetcher {
 public:
  // REQUIRES: depth >= 1, max_batch >= 1, storage spans at least the sizes above. With an
  // enabled `augment` (which must outlive the prefetcher) every gathered image is augmented.
  Prefetcher(const Dataset& data, const InputTransform& transform, StagingStorage storage, std::int64_t max_batch,
             int depth = 2, const Augmentation* augment = nullptr);
  ~Prefetcher();  // abandons any epoch in progress and joins the thread
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Begins an epoch over `order` (row indices, e.g. from epoch_order) in batches of `batch`
  // samples (1 <= batch <= max_batch); drop_remainder skips a last partial batch. Abandons an
  // epoch in progress. Allocates nothing. `order` is read by the prefetcher's thread: it must
  // stay valid until the next start() or the destructor has returned.
  void start(std::span<const std::int64_t> order, std::int64_t batch, bool drop_remainder = false);

  // The same for gradient accumulation: effective batches of `batch` samples (any size), each
  // split into micro-batches of `micro` samples (1 <= micro <= max_batch; the last micro-batch
  // of each effective batch may be smaller). Micro-batches never straddle two effective batches.
  // `epoch` selects the augmentation's draws.
  void start(std::span<const std::int64_t> order, std::int64_t batch, std::int64_t micro, bool drop_remainder,
             std::uint64_t epoch = 0);

  // The next batch of the epoch, waiting for it if needed; std::nullopt after the last one.
  std::optional<BatchView> next();

  // Batches start() will produce: ceil or floor(order.size() / batch).
  static std::int64_t batch_count(std::int64_t samples, std::int64_t batch, bool drop_remainder);
  // Micro-batches start(order, batch, micro, drop_remainder) will produce.
  static std::int64_t micro_count(std::int64_t samples, std::int64_t batch, std::int64_t micro, bool drop_remainder);

 private:
  struct Chunk {
    std::int64_t first = 0, n = 0, batch_size = 0;
    bool last = true;
  };
  Chunk chunk(std::int64_t k) const;  // micro-batch k of the epoch
  void run();
  void produce(std::int64_t k);
  // Where each of these rows (with these labels) goes when grouped by class and, within a class,
  // by the extent of its nonzero values (in staging's rows); labels[] is rewritten in grouped order.
  std::span<const std::int64_t> group_by_class(std::span<const std::int64_t> rows, std::int32_t* labels);
  void note_consumed_rows(std::span<const std::int64_t> rows);

  const Dataset& data_;
  const InputTransform& transform_;
  const Augmentation* augment_;  // null or disabled: none
  std::uint64_t epoch_ = 0;
  StagingStorage storage_;
  std::int64_t max_batch_;
  int depth_;

  std::span<const std::int64_t> order_;
  std::int64_t batch_ = 0;    // effective batch
  std::int64_t micro_ = 0;    // micro-batch
  std::int64_t batches_ = 0;  // micro-batches in the epoch
  std::vector<std::int32_t> block_left_;  // per 64-row block: rows of the order not yet gathered

  std::mutex mutex_;
  std::condition_variable cv_;
  bool active_ = false;     // an epoch is being produced
  bool gathering_ = false;  // the producer works outside the lock
  bool stop_ = false;
  std::int64_t produced_ = 0;  // batches ready (or failed) in the epoch
  std::int64_t returned_ = 0;  // batches handed out by next()
  std::int64_t done_ = 0;      // batches the consumer has finished with; their slots are free
  std::exception_ptr error_;   // failure while producing batch `produced_`
  std::thread thread_;
};

}  // namespace trainer
