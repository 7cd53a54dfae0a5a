// A SystemProbe made of maps, for tests: each source is the text a test put there, or absent.
// Cgroup files are keyed by "<cgroup path>/<file>" ("/a/b/memory.max"; the root's files are
// "/memory.max"), one map per hierarchy.
#pragma once

#include <map>
#include <string>

#include "trainer/system_probe.hpp"

namespace trainer {

class FakeSystemProbe : public SystemProbe {
 public:
  std::optional<std::string> cgroup;  // /proc/self/cgroup
  std::optional<std::string> mem;     // /proc/meminfo
  std::optional<std::string> status;  // /proc/self/status
  std::map<std::string, std::string> v2_files;
  std::map<std::string, std::string> v1_files;
  std::map<Rlimit, std::uint64_t> rlimits;  // absent: unlimited

  std::optional<std::string> self_cgroup() const override { return cgroup; }
  std::optional<std::string> cgroup_file(CgroupVersion version, const std::string& cgroup_path,
                                         const std::string& file) const override;
  std::optional<std::string> meminfo() const override { return mem; }
  std::optional<std::string> self_status() const override { return status; }
  std::optional<std::uint64_t> rlimit(Rlimit which) const override;
};

}  // namespace trainer
