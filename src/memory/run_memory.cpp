#include "trainer/run_memory.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "trainer/gemm_stack.hpp"
#include "trainer/log.hpp"
#include "trainer/size.hpp"
#include "trainer/trial.hpp"
#include "trainer/storage.hpp"
#include "trainer/system_probe.hpp"

namespace trainer {
namespace {

constexpr std::int64_t kReleaseBlockRows = 64;  // the prefetcher's page-release granularity

}  // namespace

RuntimeCosts current_runtime_costs(int threads, std::int64_t file_rows, LimitKind limit) {
  RealSystemProbe probe;
  RuntimeCosts c;
  c.threads = std::max(1, threads);
  // Freed heap memory stays resident in glibc's arenas (after a large free the trim threshold
  // rises to twice its size) and would be counted twice: in the baseline and again in the
  // Storage that reuses it. Returning it first makes the baseline the live memory only.
  malloc_trim(0);
  c.baseline = process_memory(probe).rss_anon;
  c.file_rows = file_rows;
  c.limit = limit;
  if (limit != LimitKind::resident) c.thread_bytes = std::max(kThreadOverhead, default_thread_stack_bytes());
  return c;
}

MemoryPlan plan_run(const Network& net, const RunShape& shape, const RuntimeCosts& costs) {
  const auto threads = static_cast<std::uint64_t>(std::max(1, costs.threads));
  MemoryPlan p;
  p.add(plan_storage(net, shape));
  // Under an rlimit the workers' packing lies inside their reserved stacks, already counted
  // whole below, and the calling (main) thread's stack counts only towards RLIMIT_AS.
  const GemmStacks gemm = gemm_stacks(net, shape.micro_batch, shape.eval_batch, costs.threads);
  const std::uint64_t scratch = costs.limit == LimitKind::resident    ? gemm.total(costs.threads)
                                : costs.limit == LimitKind::rlimit_as ? gemm.caller
                                                                      : 0;
  p.add("gemm_scratch", "GEMM scratch on the stacks (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)"),
        scratch);
  // OpenMP workers (the calling thread is already in the baseline) and the prefetcher.
  const std::uint64_t created = threads - 1 + 1;
  p.add("thread_stacks", "thread stacks and TLS (" + std::to_string(threads - 1) + " workers + prefetcher)",
        created * costs.thread_bytes);
  const auto blocks = static_cast<std::uint64_t>((std::max<std::int64_t>(costs.file_rows, 0) + kReleaseBlockRows - 1) /
                                                 kReleaseBlockRows);
  p.add("prefetcher_counters", "prefetcher counters", align_up(blocks * sizeof(std::int32_t)));
  p.add("runtime_baseline", "runtime baseline", costs.baseline);
  return p;
}

RunWatch::RunWatch(std::uint64_t planned_bytes, double headroom) : planned_(planned_bytes), headroom_(headroom) {}

void RunWatch::sample(std::int64_t step, bool force) {
  if (!force && step % kWatchEvery != 0) return;
  watch_.sample();
  if (warned_ || planned_ == 0) return;
  if (auto warning = watch_.overrun_warning(planned_, headroom_)) {
    warned_ = true;
    log::warn(*warning);
  }
}

}  // namespace trainer
