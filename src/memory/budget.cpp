#include "trainer/budget.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "trainer/error.hpp"

namespace trainer {
namespace {

std::string mib(std::uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

// Reclaimable page cache of one cgroup, from its memory.stat (see budget.hpp).
std::uint64_t reclaimable_cache(const std::map<std::string, std::uint64_t>& stat,
                                CgroupVersion version) {
  auto get = [&](const std::string& key) -> std::optional<std::uint64_t> {
    auto it = stat.find(key);
    if (it == stat.end()) return std::nullopt;
    return it->second;
  };
  // v1's unprefixed fields are the cgroup alone; usage_in_bytes includes descendants, so the
  // hierarchical total_* fields are the matching ones.
  const std::string p = version == CgroupVersion::v1 && get("total_inactive_file") ? "total_" : "";
  auto active = get(p + "active_file");
  auto inactive = get(p + "inactive_file");
  if (active || inactive) return active.value_or(0) + inactive.value_or(0);
  const std::string cache_key =
      version == CgroupVersion::v2 ? "file" : (get("total_cache") ? "total_cache" : "cache");
  const std::string shmem_key =
      version == CgroupVersion::v2 ? "shmem" : (get("total_shmem") ? "total_shmem" : "shmem");
  return saturating_sub(get(cache_key).value_or(0), get(shmem_key).value_or(0));
}

std::vector<std::string> self_and_ancestors(const std::string& path) {
  std::vector<std::string> levels;
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (true) {
    levels.push_back(p.empty() ? "/" : p);
    if (p.empty() || p == "/") break;
    auto slash = p.rfind('/');
    p = slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
  }
  return levels;
}

}  // namespace

std::optional<BudgetCandidate> cgroup_candidate(const SystemProbe& probe, std::uint64_t own_anon) {
  auto text = probe.self_cgroup();
  if (!text) return std::nullopt;
  CgroupMembership membership = parse_cgroup_membership(*text);

  std::optional<BudgetCandidate> best;
  auto walk = [&](CgroupVersion version, const std::string& own_path) {
    const bool v2 = version == CgroupVersion::v2;
    for (const auto& level : self_and_ancestors(own_path)) {
      auto limit_text =
          probe.cgroup_file(version, level, v2 ? "memory.max" : "memory.limit_in_bytes");
      if (!limit_text) continue;
      auto limit = parse_cgroup_limit(*limit_text);
      if (!limit) continue;
      std::uint64_t usage = 0;
      if (auto u =
              probe.cgroup_file(version, level, v2 ? "memory.current" : "memory.usage_in_bytes"))
        usage = parse_u64(*u).value_or(0);
      std::uint64_t cache = 0;
      if (auto s = probe.cgroup_file(version, level, "memory.stat"))
        cache = reclaimable_cache(parse_key_values(*s), version);
      const std::uint64_t others = saturating_sub(saturating_sub(usage, cache), own_anon);
      const std::uint64_t available = saturating_sub(*limit, others);
      if (!best || available < best->bytes) {
        best = BudgetCandidate{"cgroup", available,
                               std::string(v2 ? "v2 " : "v1 ") + level + ": limit " + mib(*limit) +
                                   ", usage " + mib(usage) + ", page cache " + mib(cache) +
                                   ", own anon " + mib(own_anon) + ", others " + mib(others)};
      }
    }
  };
  if (membership.v2) walk(CgroupVersion::v2, *membership.v2);
  if (membership.v1_memory) walk(CgroupVersion::v1, *membership.v1_memory);
  return best;
}

Budget resolve_budget(const SizeSpec& ram, double headroom, const SystemProbe& probe,
                      const std::string& ram_label) {
  if (!(headroom >= 0.0 && headroom < 1.0))
    throw Error::usage("/memory/headroom",
                       "must be a fraction in [0, 1), got " + std::to_string(headroom),
                       "e.g. 0.05 to keep 5% of the budget free");

  Budget budget;
  const ProcessMemory own = process_memory(probe);

  if (ram.kind == SizeSpec::Kind::bytes)
    budget.candidates.push_back({ram_label, ram.bytes, "given"});
  if (auto c = cgroup_candidate(probe, own.rss_anon)) budget.candidates.push_back(*c);
  if (auto info = probe.meminfo()) {
    if (auto avail = parse_kb_field(*info, "MemAvailable"))
      budget.candidates.push_back(
          {"meminfo", *avail + own.rss_anon,
           "MemAvailable " + mib(*avail) + " + own anon " + mib(own.rss_anon)});
  }
  if (auto data = probe.rlimit(Rlimit::data)) {
    const std::uint64_t taken = saturating_sub(own.vm_data, own.rss_anon);
    budget.candidates.push_back(
        {"rlimit_data", saturating_sub(*data, taken),
         "RLIMIT_DATA " + mib(*data) + " - (VmData - RssAnon) " + mib(taken)});
  }
  if (auto as = probe.rlimit(Rlimit::address_space)) {
    const std::uint64_t taken = saturating_sub(own.vm_size, own.rss_anon);
    budget.candidates.push_back({"rlimit_as", saturating_sub(*as, taken),
                                 "RLIMIT_AS " + mib(*as) + " - (VmSize - RssAnon) " + mib(taken)});
  }

  if (ram.kind == SizeSpec::Kind::none || budget.candidates.empty()) {
    budget.source = "none";
    budget.enforced = false;
    budget.raw_bytes = budget.bytes = std::numeric_limits<std::uint64_t>::max();
    return budget;
  }
  const BudgetCandidate* winner = &budget.candidates.front();
  for (const auto& c : budget.candidates)
    if (c.bytes < winner->bytes) winner = &c;  // strict: earlier sources win ties
  budget.source = winner->source;
  budget.raw_bytes = winner->bytes;
  budget.enforced = true;
  // Rounded to the nearest byte so that 10% of 1000 MiB is exactly 100 MiB.
  const auto reserved = static_cast<std::uint64_t>(
      std::llround(static_cast<long double>(winner->bytes) * static_cast<long double>(headroom)));
  budget.bytes = winner->bytes - std::min(reserved, winner->bytes);
  return budget;
}

}  // namespace trainer
