#include "trainer/fake_system_probe.hpp"

namespace trainer {

std::optional<std::string> FakeSystemProbe::cgroup_file(CgroupVersion version,
                                                        const std::string& cgroup_path,
                                                        const std::string& file) const {
  const auto& files = version == CgroupVersion::v2 ? v2_files : v1_files;
  std::string key = (cgroup_path == "/" ? std::string() : cgroup_path) + "/" + file;
  auto it = files.find(key);
  if (it == files.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint64_t> FakeSystemProbe::rlimit(Rlimit which) const {
  auto it = rlimits.find(which);
  if (it == rlimits.end()) return std::nullopt;
  return it->second;
}

}  // namespace trainer
