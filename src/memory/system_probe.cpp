#include "trainer/system_probe.hpp"

#include <sys/resource.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace trainer {
namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return std::nullopt;
  return text;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string::size_type start = 0;
  while (true) {
    auto end = text.find(sep, start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return parts;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Finds the cgroup mounts in /proc/self/mountinfo: "id parent maj:min root point opts
// [optional...] - fstype source superopts".
void discover_mounts(const std::string& mountinfo, std::optional<std::string>& v2_point,
                     std::optional<std::string>& v2_root, std::optional<std::string>& v1_point,
                     std::optional<std::string>& v1_root) {
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string w;
    while (fields >> w) f.push_back(w);
    std::size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 5 || dash + 1 >= f.size()) continue;
    const std::string& fstype = f[dash + 1];
    const std::string super = dash + 3 < f.size() ? f[dash + 3] : std::string();
    if (fstype == "cgroup2" && !v2_point) {
      v2_point = f[4];
      v2_root = f[3];
    } else if (fstype == "cgroup" && !v1_point) {
      for (const auto& opt : split(super, ','))
        if (opt == "memory") {
          v1_point = f[4];
          v1_root = f[3];
        }
    }
  }
}

}  // namespace

RealSystemProbe::RealSystemProbe() : RealSystemProbe(Roots{}) {}

RealSystemProbe::RealSystemProbe(Roots roots) : proc_(std::move(roots.proc)) {
  std::optional<std::string> v2_point, v2_root, v1_point, v1_root;
  if (roots.cgroup_v2.empty() || roots.cgroup_v1_memory.empty()) {
    if (auto mi = read_text(proc_ + "/self/mountinfo"))
      discover_mounts(*mi, v2_point, v2_root, v1_point, v1_root);
  }
  if (!roots.cgroup_v2.empty())
    v2_ = Mount{roots.cgroup_v2, "/"};
  else if (v2_point)
    v2_ = Mount{*v2_point, *v2_root};
  else
    v2_ = Mount{"/sys/fs/cgroup", "/"};
  if (!roots.cgroup_v1_memory.empty())
    v1_memory_ = Mount{roots.cgroup_v1_memory, "/"};
  else if (v1_point)
    v1_memory_ = Mount{*v1_point, *v1_root};
  else
    v1_memory_ = Mount{"/sys/fs/cgroup/memory", "/"};
}

std::optional<std::string> RealSystemProbe::cgroup_dir(CgroupVersion version,
                                                       const std::string& cgroup_path) const {
  const auto& mount = version == CgroupVersion::v2 ? v2_ : v1_memory_;
  if (!mount) return std::nullopt;
  std::string rel = cgroup_path;
  // Without a cgroup namespace a container's mount shows its own cgroup as the mount root
  // while /proc/self/cgroup names the full path: strip the part the mount already covers.
  if (mount->root != "/" && rel.rfind(mount->root, 0) == 0 &&
      (rel.size() == mount->root.size() || rel[mount->root.size()] == '/'))
    rel = rel.substr(mount->root.size());
  if (rel == "/") rel.clear();
  return mount->point + rel;
}

std::optional<std::string> RealSystemProbe::self_cgroup() const {
  return read_text(proc_ + "/self/cgroup");
}

std::optional<std::string> RealSystemProbe::cgroup_file(CgroupVersion version,
                                                        const std::string& cgroup_path,
                                                        const std::string& file) const {
  auto dir = cgroup_dir(version, cgroup_path);
  if (!dir) return std::nullopt;
  return read_text(*dir + "/" + file);
}

std::optional<std::string> RealSystemProbe::meminfo() const {
  return read_text(proc_ + "/meminfo");
}

std::optional<std::string> RealSystemProbe::self_status() const {
  return read_text(proc_ + "/self/status");
}

std::optional<std::uint64_t> RealSystemProbe::rlimit(Rlimit which) const {
  struct rlimit rl {};
  if (getrlimit(which == Rlimit::data ? RLIMIT_DATA : RLIMIT_AS, &rl) != 0) return std::nullopt;
  if (rl.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<std::uint64_t>(rl.rlim_cur);
}

// ---- Parsing ---------------------------------------------------------------------------

CgroupMembership parse_cgroup_membership(const std::string& text) {
  CgroupMembership m;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    // "id:controllers:path"; the path may itself contain ':'.
    auto c1 = line.find(':');
    if (c1 == std::string::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    std::string id = line.substr(0, c1);
    std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path = trim(line.substr(c2 + 1));
    if (path.empty()) continue;
    if (id == "0" && controllers.empty()) {
      m.v2 = path;
    } else {
      for (const auto& c : split(controllers, ','))
        if (c == "memory") m.v1_memory = path;
    }
  }
  return m;
}

std::optional<std::uint64_t> parse_u64(const std::string& text) {
  std::string t = trim(text);
  if (t.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parse_cgroup_limit(const std::string& text) {
  auto v = parse_u64(text);
  // v1 writes "unlimited" as PAGE_COUNTER_MAX pages (9223372036854771712 on 4 KiB pages).
  if (!v || *v >= (std::uint64_t{1} << 62)) return std::nullopt;
  return v;
}

std::map<std::string, std::uint64_t> parse_key_values(const std::string& text) {
  std::map<std::string, std::uint64_t> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string key, value;
    if (!(fields >> key >> value)) continue;
    if (auto v = parse_u64(value)) out[key] = *v;
  }
  return out;
}

std::optional<std::uint64_t> parse_kb_field(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos || line.compare(0, colon, key) != 0 || colon != key.size())
      continue;
    std::istringstream fields(line.substr(colon + 1));
    std::string number, unit;
    fields >> number >> unit;
    auto v = parse_u64(number);
    if (!v) return std::nullopt;
    return unit == "kB" ? *v * 1024 : *v;
  }
  return std::nullopt;
}

ProcessMemory process_memory(const SystemProbe& probe) {
  ProcessMemory pm;
  auto status = probe.self_status();
  if (!status) return pm;
  auto field = [&](const char* key) { return parse_kb_field(*status, key).value_or(0); };
  pm.rss_anon = field("RssAnon");
  pm.rss_file = field("RssFile");
  pm.vm_rss = field("VmRSS");
  pm.vm_hwm = field("VmHWM");
  pm.vm_data = field("VmData");
  pm.vm_size = field("VmSize");
  return pm;
}

}  // namespace trainer
