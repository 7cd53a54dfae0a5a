#include "trainer/run_memory.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "trainer/data_sets.hpp"
#include "trainer/gemm_stack.hpp"
#include "trainer/log.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/prefetcher.hpp"
#include "trainer/run_state.hpp"
#include "trainer/size.hpp"
#include "trainer/storage.hpp"
#include "trainer/system_probe.hpp"

namespace trainer {
namespace {

constexpr std::int64_t kReleaseBlockRows = 64;  // the prefetcher's page-release granularity

}  // namespace

RuntimeCosts current_runtime_costs(int threads, std::int64_t file_rows, bool virtual_limit) {
  RealSystemProbe probe;
  RuntimeCosts c;
  c.threads = std::max(1, threads);
  // Freed heap memory stays resident in glibc's arenas (after a large free the trim threshold
  // rises to twice its size) and would be counted twice: in the baseline and again in the
  // Storage that reuses it. Returning it first makes the baseline the live memory only.
  malloc_trim(0);
  c.baseline = process_memory(probe).rss_anon;
  c.file_rows = file_rows;
  if (virtual_limit) c.thread_bytes = std::max(kThreadOverhead, default_thread_stack_bytes());
  return c;
}

MemoryPlan plan_run(const Network& net, const RunShape& shape, const RuntimeCosts& costs) {
  const auto threads = static_cast<std::uint64_t>(std::max(1, costs.threads));
  MemoryPlan p;
  p.add(plan_storage(net, shape));
  p.add("GEMM scratch on the stacks (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)"),
        gemm_stacks(net, shape.micro_batch, shape.eval_batch, costs.threads).total(costs.threads));
  // OpenMP workers (the calling thread is already in the baseline) and the prefetcher.
  const std::uint64_t created = threads - 1 + 1;
  p.add("thread stacks and TLS (" + std::to_string(threads - 1) + " workers + prefetcher)",
        created * costs.thread_bytes);
  const auto blocks = static_cast<std::uint64_t>((std::max<std::int64_t>(costs.file_rows, 0) + kReleaseBlockRows - 1) /
                                                 kReleaseBlockRows);
  p.add("prefetcher counters", align_up(blocks * sizeof(std::int32_t)));
  p.add("runtime baseline", costs.baseline);
  return p;
}

TrialResult training_trial(const Config& config, const RunShape& shape, const DataSets& data,
                           std::uint64_t data_limit, std::chrono::milliseconds timeout) {
  auto work = [&] {
    Network net(config.model, shape.width);
    Optimizer optimizer(config.optimizer);
    // Kept alive past work(): the trial's last sample, taken after work() returns, must see
    // the run's memory (the child ends with _exit, which frees it).
    static std::optional<RunState> kept;
    kept.emplace(allocate_run(net, shape, &optimizer));
    RunState& st = *kept;
    net.init_weights(config.training.seed);
    // The epoch order as fit fills it, then two micro-batches through the real prefetcher, so
    // its thread and both staging slots are part of the measurement.
    const std::size_t rows = std::min(st.order.size(), data.train.rows.size());
    std::copy_n(data.train.rows.begin(), rows, st.order.begin());
    const std::int64_t micro = std::max<std::int64_t>(1, shape.micro_batch);
    const std::int64_t used = std::min<std::int64_t>(static_cast<std::int64_t>(rows), 2 * micro);
    Prefetcher prefetcher(*data.train.data, data.transform, st.staging, micro, kPrefetchDepth);
    prefetcher.start(st.order.first(static_cast<std::size_t>(used)), micro, micro, false);
    std::int64_t step = 0;
    while (const auto batch = prefetcher.next()) {
      std::memset(st.grads.data(), 0, st.grads.size_bytes());
      net.train_micro_batch(batch->x, batch->labels, batch->targets, batch->n,
                            1.0f / static_cast<float>(batch->n), static_cast<std::uint64_t>(step));
      optimizer.step(st.params, st.grads, config.optimizer.lr);
      ++step;
    }
    const RowSet& eval_set = data.validation.present() ? data.validation
                             : data.test.present()     ? data.test
                                                       : data.train;
    const std::int64_t m = std::min(shape.eval_batch, eval_set.size());
    const Staging& es = st.eval_staging;
    std::copy_n(eval_set.rows.begin(), m, es.rows.begin());
    std::int32_t* labels = es.labels.empty() ? nullptr : es.labels.data();
    float* targets = es.targets.empty() ? nullptr : es.targets.data();
    eval_set.data->gather({es.rows.data(), static_cast<std::size_t>(m)}, data.transform, es.x.data(), labels,
                          targets);
    net.evaluate(es.x.data(), labels, targets, m, nullptr);
  };
  return run_trial(data_limit, timeout, work);
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
