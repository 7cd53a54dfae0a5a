// The whole memory of a training run, beyond its Storage: the plan of every resident anonymous
// byte (storage items, per-thread stacks, the runtime baseline) and the watch that compares the
// live process with it while fit trains. (The trial that measures it runs training steps, which
// train/ hands down: trainer/training_trial.hpp.)
//
// What lives outside the Storage, and how it is counted (measurements in docs/memory.md):
//   gemm stacks     the GEMMs (the packed kernel or Eigen) pack operands on the stack of the
//                   thread that runs the product; touched stack pages stay resident for the
//                   thread's life. Each compute thread counts the largest packing it can do,
//                   partial micro-batches included (gemm_stack.hpp).
//   thread overhead each thread the run creates (OpenMP workers, the prefetcher) touches the top
//                   of its stack, its TLS and libgomp/glibc bookkeeping: kThreadOverhead each.
//   prefetch blocks the prefetcher's per-64-row release counters (4 bytes per block).
//   baseline        RssAnon when the search starts (after malloc_trim, so freed heap that the
//                   Storage may reuse is not counted twice): libraries, allocator arenas, the
//                   loaded data set's row lists, the main thread's stack.
//
// Thread-safety: the functions are pure or act on a forked child; RunWatch is one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "trainer/memory_plan.hpp"
#include "trainer/model.hpp"
#include "trainer/rss_watch.hpp"
#include "trainer/run_storage.hpp"

namespace trainer {

// Resident bytes one extra thread costs besides its GEMM packing: measured 4-12 KiB for a
// std::thread and 8 KiB for a libgomp worker (docs/memory.md); 32 KiB leaves room for the
// prefetcher's gather frames.
inline constexpr std::uint64_t kThreadOverhead = 32u * 1024;

// What the budget limits: resident memory (cgroup, meminfo, --ram), or the address space an
// rlimit counts, where every thread's stack is reserved whole.
enum class LimitKind {
  resident,
  rlimit_data,  // private writable mappings: thread stacks, not the main thread's stack
  rlimit_as,    // all of the address space, the main thread's stack included
};

struct RuntimeCosts {
  int threads = 1;                         // compute threads, the calling one included
  std::uint64_t baseline = 0;              // RssAnon before the run allocates
  std::int64_t file_rows = 0;              // rows of the training file (prefetcher counters)
  // Bytes counted per created thread: kThreadOverhead resident; under an rlimit budget the
  // whole reserved stack (RLIMIT_DATA and RLIMIT_AS count it, touched or not).
  std::uint64_t thread_bytes = kThreadOverhead;
  LimitKind limit = LimitKind::resident;
};

// threads: compute threads in effect; baseline: RssAnon now (read here); limit: what the
// budget limits (an rlimit counts reserved stacks whole).
RuntimeCosts current_runtime_costs(int threads, std::int64_t file_rows, LimitKind limit = LimitKind::resident);

// Items: plan_storage(net, shape), then gemm_scratch ("GEMM scratch on the stacks (T threads)":
// under an rlimit, only what lies outside the stacks it already counts whole),
// thread_stacks ("thread stacks and TLS (W workers + prefetcher)"), prefetcher_counters and
// runtime_baseline.
MemoryPlan plan_run(const Network& net, const RunShape& shape, const RuntimeCosts& costs);

// Fit's watch on its own resident memory: sample() every kWatchEvery steps and at epoch ends,
// warn() once if the peak exceeds the plan by more than the headroom.
class RunWatch {
 public:
  static constexpr std::int64_t kWatchEvery = 16;
  RunWatch(std::uint64_t planned_bytes, double headroom);
  // Samples when step % kWatchEvery == 0 (or always with force); logs the warning once.
  void sample(std::int64_t step, bool force = false);
  std::uint64_t peak() const { return watch_.peak(); }

 private:
  RssWatch watch_;
  std::uint64_t planned_;
  double headroom_;
  bool warned_ = false;
};

}  // namespace trainer
