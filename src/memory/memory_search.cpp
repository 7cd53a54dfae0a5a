#include "trainer/memory_search.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>

#include "trainer/budget.hpp"
#include "trainer/distributed.hpp"
#include "trainer/error.hpp"
#include "trainer/gemm_stack.hpp"
#include "trainer/log.hpp"
#include "trainer/memory_plan.hpp"
#include "trainer/run_memory.hpp"
#include "trainer/system_probe.hpp"
#include "trainer/trial.hpp"

namespace trainer {
namespace {

// Evaluation gains little past this many rows per pass; the rest of the budget stays free.
constexpr std::int64_t kMaxEvalBatch = 1024;
constexpr int kMaxTrials = 6;
constexpr std::chrono::milliseconds kTrialTimeout{30000};
// A cgroup charges the page cache of the mapped data files it reads. That cache is
// reclaimable, but reclaim needs room to work: with 14 MiB left in a 256 MiB cgroup an epoch
// over a 1 GiB file stalled for minutes, with 33 MiB it took 5 s (docs/memory.md). The plan
// keeps this much of a cgroup budget free for it; it is not resident anonymous memory, so it
// is not a line of the breakdown.
constexpr std::uint64_t kCgroupPageCacheRoom = 32u << 20;

// The plan of a run at (micro, eval): storage, thread stacks and the baseline (run_memory.hpp).
struct Planner {
  const Network& net;
  RunShape shape;
  RuntimeCosts costs;

  MemoryPlan plan(std::int64_t micro, std::int64_t eval) const {
    RunShape s = shape;
    s.micro_batch = micro;
    s.eval_batch = eval;
    return plan_run(net, s, costs);
  }
};

// What to do when no trial passed. A trial that runs out of stack dies by SIGSEGV, and no budget
// mends that: the GEMMs pack their operands on the stack of every compute thread, so a stack
// limit (ulimit -s) below that packing is named instead of a larger --ram.
std::string after_failed_trials(const Network& net, std::int64_t micro, std::int64_t eval, int threads) {
  const GemmStacks gemm = gemm_stacks(net, micro, eval, threads);
  constexpr std::uint64_t kOtherFrames = 256u << 10;  // the call chain above the GEMMs, with room
  const std::uint64_t need = std::max(gemm.caller, gemm.worker) + kOtherFrames;
  // The smallest stack a compute thread has: the main thread's is RLIMIT_STACK, the workers'
  // the default thread stack (RLIMIT_STACK's, or what main() set).
  struct rlimit stack {};
  std::uint64_t limit = default_thread_stack_bytes();
  if (getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_cur != RLIM_INFINITY)
    limit = std::min<std::uint64_t>(limit, stack.rlim_cur);
  if (limit == 0 || limit >= need) return "a larger --ram, or memory.verify false to skip trials";
  const std::uint64_t need_kib = (need + 1023) >> 10;
  return "a stack limit of at least " + std::to_string(need_kib) + " KiB (ulimit -s " + std::to_string(need_kib) +
         "; it is " + std::to_string(limit >> 10) + " KiB): the GEMMs of a micro-batch of " + std::to_string(micro) +
         " pack " + format_bytes(std::max(gemm.caller, gemm.worker)) + " on each compute thread's stack";
}

std::string largest_items(const MemoryPlan& plan) {
  std::string s;
  for (const auto& item : plan.largest(3)) s += (s.empty() ? "" : ", ") + item.name + " " + format_bytes(item.bytes);
  return s;
}

}  // namespace

BatchSearch search_batches(const Config& config, const Network& net, RunShape shape, std::int64_t n_train,
                           std::int64_t largest_eval_set, std::int64_t file_rows, const TrialSteps& trial) {
  RealSystemProbe probe;
  const Budget budget = local_share(resolve_budget(config.memory.ram, config.memory.headroom, probe, config.memory.ram_label),
                                    config.memory.headroom);
  const int threads = std::max(1, set_compute_threads(static_cast<int>(config.training.threads)));
  const LimitKind limit_kind = budget.source == "rlimit_data" ? LimitKind::rlimit_data
                          : budget.source == "rlimit_as" ? LimitKind::rlimit_as
                                                         : LimitKind::resident;
  const Planner planner{net, shape, current_runtime_costs(threads, file_rows, limit_kind)};
  const TrainingConfig& t = config.training;
  const std::int64_t n = std::max<std::int64_t>(n_train, 1);
  // Evaluation batches reach kMaxEvalBatch, and never fall below the training micro-batch.
  auto eval_cap = [&](std::int64_t micro) {
    return std::clamp<std::int64_t>(largest_eval_set, 1, std::max(kMaxEvalBatch, micro));
  };

  BatchSearch s;
  s.budget_bytes = budget.enforced ? budget.bytes : 0;
  // What the plan may fill: the budget, less the page-cache room under a cgroup.
  Budget plannable = budget;
  if (budget.source == "cgroup" && plannable.bytes > 2 * kCgroupPageCacheRoom) plannable.bytes -= kCgroupPageCacheRoom;
  s.budget_source = budget.source;
  if (budget.enforced) {
    std::string seen;
    for (const auto& c : budget.candidates) seen += (seen.empty() ? "" : ", ") + c.source + " " + format_bytes(c.bytes);
    log::info("memory budget " + format_bytes(budget.bytes) + " from " + budget.source + " after " +
                  std::to_string(static_cast<int>(config.memory.headroom * 100 + 0.5)) + "% headroom (sources: " + seen + ")",
              {{"event", "budget"}, {"budget_bytes", budget.bytes}, {"budget_source", budget.source}});
    if (plannable.bytes < budget.bytes)
      log::info("keeping " + format_bytes(budget.bytes - plannable.bytes) + " of the cgroup free for the page cache of the mapped data");
  }

  // The micro-batch range the search may pick from.
  std::int64_t hi = n;
  if (t.batch_size.kind == BatchSpec::Kind::fixed) hi = std::min(hi, t.batch_size.n);
  const bool forced = t.micro_batch.kind == BatchSpec::Kind::fixed;
  if (forced) hi = std::min(hi, t.micro_batch.n);

  auto bytes_at = [&](std::int64_t micro) { return planner.plan(micro, std::min(micro, eval_cap(micro))).total(); };
  std::int64_t micro = hi;
  if (budget.enforced) {
    const MemoryPlan at_one = planner.plan(1, 1);
    if (at_one.total() > plannable.bytes) {
      // Rounded up to whole MiB, so the figure printed is itself a --ram value that works.
      const std::uint64_t room = budget.bytes - plannable.bytes;  // the cgroup's page-cache room
      const auto needed =
          static_cast<std::uint64_t>(static_cast<double>(at_one.total() + room) / (1.0 - config.memory.headroom)) + 1;
      const std::uint64_t needed_mib = (needed + (1u << 20) - 1) >> 20;
      throw Error::budget(config.memory.ram_label == "--ram" && config.memory.ram.kind == SizeSpec::Kind::bytes ? "--ram" : "memory budget",
                          "a batch of 1 needs " + format_bytes(at_one.total()) + " but the budget (" + budget.source +
                              ") is " + format_bytes(plannable.bytes) + "; largest items: " + largest_items(at_one),
                          "a budget of at least " + std::to_string(needed_mib) + "M (--ram " + std::to_string(needed_mib) + "M)");
    }
    if (forced && bytes_at(hi) > plannable.bytes) {
      const MemoryPlan p = planner.plan(hi, std::min(hi, eval_cap(hi)));
      throw Error::budget("/training/micro_batch",
                          "a micro-batch of " + std::to_string(hi) + " needs " + format_bytes(p.total()) +
                              " but the budget (" + budget.source + ") is " + format_bytes(plannable.bytes) +
                              "; largest items: " + largest_items(p),
                          "at most " + std::to_string(largest_fitting(1, hi, bytes_at, plannable.bytes)) +
                              " (or auto), or --ram none to lift the check");
    }
    micro = largest_fitting(1, hi, bytes_at, plannable.bytes);
    s.max_batch = largest_fitting(1, n, bytes_at, plannable.bytes);
  } else {
    s.max_batch = n;
  }

  // Evaluation gets its own, larger batch from what the training plan leaves. In a training run
  // it adds at most a quarter to the training plan: past a few hundred rows a larger batch speeds
  // evaluation little, while an image model's evaluation activations would take far more than
  // its training (the Fashion-MNIST CNN: 161 MiB beyond a 55 MiB plan at 1024 rows).
  const bool training_run = static_cast<bool>(trial);
  auto eval_for = [&](std::int64_t m) {
    const std::int64_t base = std::min(m, eval_cap(m));
    const std::uint64_t training = planner.plan(m, base).total();
    std::uint64_t limit = budget.enforced ? plannable.bytes : std::numeric_limits<std::uint64_t>::max();
    if (training_run) limit = std::min(limit, training + training / 4);
    if (limit == std::numeric_limits<std::uint64_t>::max()) return eval_cap(m);
    auto eval_bytes = [&](std::int64_t e) { return planner.plan(m, e).total(); };
    return std::max(base, largest_fitting(base, eval_cap(m), eval_bytes, limit));
  };

  std::int64_t eval = eval_for(micro);
  const bool verify = config.memory.verify && budget.enforced && trial && !forced && n_train > 0;
  for (int attempt = 0; verify; ++attempt) {
    RunShape trial_shape = shape;
    trial_shape.micro_batch = micro;
    trial_shape.eval_batch = eval;
    const std::uint64_t predicted = planner.plan(micro, eval).total();
    // RLIMIT_DATA counts reserved stacks too: the workers' and the prefetcher's.
    const std::uint64_t limit = data_limit_for(budget.raw_bytes, process_memory(probe), threads, default_thread_stack_bytes());
    TrialResult r = run_trial(limit, kTrialTimeout, [&] { trial(trial_shape); });
    const bool fits = r.fits && r.peak_anon <= budget.raw_bytes;
    s.trials.push_back({micro, predicted, r.peak_anon, fits, fits ? "" : (r.reason.empty() ? "peak above the budget" : r.reason)});
    log::info("trial at micro-batch " + std::to_string(micro) + " (eval " + std::to_string(eval) + "): predicted " +
              format_bytes(predicted) + ", measured " + format_bytes(r.peak_anon) + ", " + (fits ? "fits" : "fails: " + s.trials.back().note));
    if (fits) {
      s.measured_peak = r.peak_anon;
      break;
    }
    if (micro == 1 || attempt + 1 >= kMaxTrials) {
      throw Error::budget("memory budget", "no micro-batch passed a trial under the budget of " + format_bytes(plannable.bytes) +
                                               " (" + budget.source + "); last: " + s.trials.back().note,
                          after_failed_trials(net, micro, eval, threads));
    }
    micro = std::max<std::int64_t>(1, micro * 4 / 5);
    eval = std::min(eval_for(micro), std::max<std::int64_t>(1, eval * 4 / 5));
  }
  if (!verify && budget.enforced && !forced) {
    log::info(config.memory.verify ? "batch size not verified by a trial" : "memory.verify is false: batch size chosen from the plan without a trial");
  }

  s.choice = agree_batches(Communicator::world(), choose_batches(t, n_train, micro, eval, largest_eval_set), t, n_train);
  const MemoryPlan final_plan = planner.plan(s.choice.micro, s.choice.eval);
  s.breakdown = final_plan.items();
  s.layers = net.layers();
  s.predicted_peak = final_plan.total();
  return s;
}

}  // namespace trainer
