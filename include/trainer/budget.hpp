// The memory budget: how many bytes of anonymous memory this process may hold in total
// (runtime baseline included), from every source that limits it. Smallest wins, and the
// winner is reported (DESIGN.md "Memory budget").
//
// Every candidate is expressed in the same unit — the total resident anonymous memory this
// process could reach — so they compare directly:
//
//   explicit   --ram / memory.ram as given.
//   cgroup     for each cgroup from the process's own up to the root, in the v2 hierarchy
//              (memory.max, memory.current, memory.stat) and the v1 memory hierarchy
//              (memory.limit_in_bytes, memory.usage_in_bytes, memory.stat):
//                 file   = reclaimable page cache of that cgroup = active_file + inactive_file
//                          (v1: the hierarchical total_* fields), falling back to file - shmem
//                          (v1: total_cache - total_shmem). Shared memory is not reclaimable
//                          without swap, so it stays counted.
//                 others = max(0, usage - file - own_anon)   // what the cgroup holds that
//                                                           // is neither cache nor ours
//                 available = max(0, limit - others)
//              and the tightest level wins. Page cache (including our own memory-mapped data
//              files) never shrinks the budget: the kernel reclaims it before it OOM-kills.
//              A limit of "max" (v1: >= 2^62) is no limit.
//   meminfo    MemAvailable + own_anon (MemAvailable is what is left beyond what we hold).
//   rlimit_data  RLIMIT_DATA - max(0, VmData - own_anon): VmData also counts reserved but
//              untouched private memory (thread stacks, malloc arenas) that uses the limit.
//   rlimit_as  RLIMIT_AS - max(0, VmSize - own_anon): the address space already taken by
//              libraries, reservations and mapped data files cannot hold the plan.
// where own_anon is RssAnon of /proc/self/status.
//
// Then bytes = raw_bytes * (1 - headroom). `none` disables enforcement: the candidates are
// still listed for the log, but bytes is the maximum and enforced is false. If no source
// is readable at all (not Linux), auto also yields source "none".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/size.hpp"
#include "trainer/system_probe.hpp"

namespace trainer {

struct BudgetCandidate {
  std::string source;       // the explicit label, "cgroup", "meminfo", "rlimit_data", "rlimit_as"
  std::uint64_t bytes = 0;  // anonymous memory this source leaves to the process
  std::string detail;       // how it was computed, for the log
};

struct Budget {
  std::uint64_t bytes = 0;      // usable by the plan, after headroom
  std::uint64_t raw_bytes = 0;  // the winning candidate before headroom
  std::string source;           // winning candidate's source, or "none"
  bool enforced = false;
  std::vector<BudgetCandidate> candidates;  // every source found, in the order above
};

// ram: the user's --ram / memory.ram (auto when neither was given). ram_label names where an
// explicit value came from ("--ram" or "memory.ram") and becomes its source.
// headroom: fraction in [0, 1); anything else throws Error::usage naming /memory/headroom.
Budget resolve_budget(const SizeSpec& ram, double headroom, const SystemProbe& probe,
                      const std::string& ram_label = "--ram");

// The cgroup candidate alone (nullopt when no level has a limit); exposed for the log and
// tests.
std::optional<BudgetCandidate> cgroup_candidate(const SystemProbe& probe, std::uint64_t own_anon);

}  // namespace trainer
