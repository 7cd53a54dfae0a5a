// The OS seam of the memory budget (leveldb's Env idea): everything the budget needs to know
// about the machine — cgroup membership and files, /proc/meminfo, rlimits, this process's
// resident memory — is read through a SystemProbe, so the rules built on it ("smallest source
// wins", "page cache does not shrink the budget") are tested against a fake, not the CI host.
//
// The virtual methods return raw text (or a raw limit); parsing lives in the free functions
// below, so the real probe and the fake share it and a test exercises the real parsers.
// A missing or unreadable source is std::nullopt, never an error: a machine without cgroups
// simply has one budget source fewer.
//
// Thread-safety: probes hold no mutable state; concurrent reads are fine.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace trainer {

enum class CgroupVersion { v1, v2 };
enum class Rlimit { data, address_space };

class SystemProbe {
 public:
  virtual ~SystemProbe() = default;

  // Contents of /proc/self/cgroup.
  virtual std::optional<std::string> self_cgroup() const = 0;
  // Contents of `file` ("memory.max", "memory.stat", ...) of the cgroup `cgroup_path` ("/a/b",
  // as written in /proc/self/cgroup) in the v2 hierarchy or the v1 memory hierarchy.
  virtual std::optional<std::string> cgroup_file(CgroupVersion version,
                                                 const std::string& cgroup_path,
                                                 const std::string& file) const = 0;
  // Contents of /proc/meminfo.
  virtual std::optional<std::string> meminfo() const = 0;
  // Contents of /proc/self/status.
  virtual std::optional<std::string> self_status() const = 0;
  // Soft limit in bytes; nullopt when unlimited (RLIM_INFINITY) or unknown.
  virtual std::optional<std::uint64_t> rlimit(Rlimit which) const = 0;
};

// Reads the live system. Roots are configurable so a test can point the probe at a copied
// tree; an empty cgroup root is found from <proc_root>/self/mountinfo (a cgroup2 mount; a
// cgroup v1 mount with the "memory" option), falling back to /sys/fs/cgroup and
// /sys/fs/cgroup/memory.
class RealSystemProbe : public SystemProbe {
 public:
  struct Roots {
    std::string proc = "/proc";
    std::string cgroup_v2;         // empty: discover
    std::string cgroup_v1_memory;  // empty: discover
  };
  RealSystemProbe();
  explicit RealSystemProbe(Roots roots);

  std::optional<std::string> self_cgroup() const override;
  std::optional<std::string> cgroup_file(CgroupVersion version, const std::string& cgroup_path,
                                         const std::string& file) const override;
  std::optional<std::string> meminfo() const override;
  std::optional<std::string> self_status() const override;
  std::optional<std::uint64_t> rlimit(Rlimit which) const override;

  // Directory of a cgroup in a hierarchy (for tests that create cgroups); nullopt if that
  // hierarchy is not mounted.
  std::optional<std::string> cgroup_dir(CgroupVersion version,
                                        const std::string& cgroup_path) const;

 private:
  struct Mount {
    std::string point;  // where the hierarchy is mounted
    std::string root;   // which cgroup of the hierarchy sits at `point` (mountinfo field 4)
  };
  std::string proc_;
  std::optional<Mount> v2_;
  std::optional<Mount> v1_memory_;
};

// ---- Parsing shared by every probe -------------------------------------------------------

// Where this process sits, from /proc/self/cgroup: the v2 line "0::/path" and the v1 line
// "N:...memory...:/path" (controllers are comma-separated).
struct CgroupMembership {
  std::optional<std::string> v2;
  std::optional<std::string> v1_memory;
};
CgroupMembership parse_cgroup_membership(const std::string& text);

// A cgroup limit file: "max" (v2) or a value of 2^62 or more (v1's "unlimited",
// 9223372036854771712) is nullopt; so is anything that is not a number.
std::optional<std::uint64_t> parse_cgroup_limit(const std::string& text);
// A plain number file (memory.current, memory.usage_in_bytes).
std::optional<std::uint64_t> parse_u64(const std::string& text);
// "key value" lines (memory.stat).
std::map<std::string, std::uint64_t> parse_key_values(const std::string& text);
// "Key:   123 kB" lines (/proc/meminfo, /proc/self/status), in bytes; nullopt if absent.
std::optional<std::uint64_t> parse_kb_field(const std::string& text, const std::string& key);

// This process's memory from /proc/self/status, in bytes (0 when a field is missing).
struct ProcessMemory {
  std::uint64_t rss_anon = 0;  // RssAnon: resident anonymous memory
  std::uint64_t rss_file = 0;  // RssFile: resident file pages (the mapped data files)
  std::uint64_t vm_rss = 0;    // VmRSS
  std::uint64_t vm_hwm = 0;    // VmHWM: peak VmRSS, file pages included
  std::uint64_t vm_data = 0;   // VmData: what RLIMIT_DATA counts (virtual, untouched included)
  std::uint64_t vm_size = 0;   // VmSize: what RLIMIT_AS counts
};
ProcessMemory process_memory(const SystemProbe& probe);

}  // namespace trainer
