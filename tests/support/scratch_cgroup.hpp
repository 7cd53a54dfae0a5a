// A memory cgroup made for one test: created under the test process's own cgroup (so it adds
// to whatever limit already applies), limited to `limit_bytes`, removed on destruction.
// Works with cgroup v2 (memory controller enabled in the subtree) or the v1 memory hierarchy;
// needs root. When the machine does not allow it, ok() is false and why_not() says why, so a
// test can WARN and pass instead of failing on hosts that cannot run it.
//
// Use: fork; in the child call join_self() (or write the pid to procs_file()), then run or
// exec what should live inside; the parent reaps the child before the ScratchCgroup dies.
#pragma once

#include <cstdint>
#include <string>

#include "trainer/system_probe.hpp"

namespace trainer_test {

class ScratchCgroup {
 public:
  explicit ScratchCgroup(std::uint64_t limit_bytes);
  ~ScratchCgroup();
  ScratchCgroup(const ScratchCgroup&) = delete;
  ScratchCgroup& operator=(const ScratchCgroup&) = delete;

  bool ok() const { return ok_; }
  const std::string& why_not() const { return why_not_; }
  trainer::CgroupVersion version() const { return version_; }
  const std::string& dir() const { return dir_; }  // its directory in the mounted hierarchy
  std::string procs_file() const { return dir_ + "/cgroup.procs"; }
  // Moves the calling process into the cgroup (meant for a freshly forked child).
  bool join_self() const;

 private:
  bool ok_ = false;
  std::string why_not_;
  trainer::CgroupVersion version_ = trainer::CgroupVersion::v2;
  std::string dir_;
};

}  // namespace trainer_test
