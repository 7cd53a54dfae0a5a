// The real SystemProbe on this machine, and a real memory cgroup when the machine allows one.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "support/scratch_cgroup.hpp"
#include "trainer/budget.hpp"
#include "trainer/system_probe.hpp"

using namespace trainer;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

// Runs `child` in a forked process and returns what it wrote to the pipe, and its status.
template <class F>
std::pair<std::string, int> in_child(F child) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    std::string out = child();
    if (write(fds[1], out.data(), out.size()) < 0) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {out, status};
}

}  // namespace

TEST_CASE("the real probe reads plausible values on this machine", "[budget]") {
  RealSystemProbe probe;
  ProcessMemory pm = process_memory(probe);
  CHECK(pm.rss_anon > 0);
  CHECK(pm.vm_rss >= pm.rss_anon);
  CHECK(pm.vm_hwm >= pm.vm_rss);
  CHECK(pm.vm_data >= pm.rss_anon / 2);  // a resident page was mapped, give or take shared
  CHECK(pm.vm_size >= pm.vm_rss);

  auto info = probe.meminfo();
  REQUIRE(info);
  auto total = parse_kb_field(*info, "MemTotal");
  auto avail = parse_kb_field(*info, "MemAvailable");
  REQUIRE(total);
  REQUIRE(avail);
  CHECK(*avail <= *total);

  auto cgroup = probe.self_cgroup();
  REQUIRE(cgroup);
  auto membership = parse_cgroup_membership(*cgroup);
  CHECK((membership.v2 || membership.v1_memory));

  Budget b = resolve_budget(SizeSpec{}, 0.05, probe);
  std::ostringstream log;
  for (const auto& c : b.candidates) log << c.source << " " << c.bytes << " (" << c.detail << ")\n";
  INFO(log.str());
  CHECK(b.enforced);
  CHECK(b.raw_bytes > 16 * MiB);
  CHECK(b.raw_bytes <= *avail + pm.rss_anon + 64 * MiB);  // never above what meminfo offers
  CHECK(b.bytes < b.raw_bytes);
}

TEST_CASE("inside a real 256 MiB memory cgroup the budget comes from the cgroup", "[budget]") {
  trainer_test::ScratchCgroup sandbox(256 * MiB);
  if (!sandbox.ok()) {
    WARN("skipped: cannot create a memory cgroup here: " << sandbox.why_not());
    return;
  }
  auto [out, status] = in_child([&]() -> std::string {
    if (!sandbox.join_self()) return "join failed: " + std::string(std::strerror(errno));
    RealSystemProbe probe;
    Budget b = resolve_budget(SizeSpec{}, 0.0, probe);
    return b.source + " " + std::to_string(b.raw_bytes);
  });
  REQUIRE(WIFEXITED(status));
  INFO("child said: " << out << " (cgroup " << sandbox.dir() << ")");
  std::istringstream fields(out);
  std::string source;
  std::uint64_t raw = 0;
  fields >> source >> raw;
  CHECK(source == "cgroup");
  CHECK(raw <= 256 * MiB);
  CHECK(raw >= 200 * MiB);
}

TEST_CASE("a real 256 MiB memory cgroup kills a process that exceeds it", "[budget]") {
  trainer_test::ScratchCgroup sandbox(256 * MiB);
  if (!sandbox.ok()) {
    WARN("skipped: cannot create a memory cgroup here: " << sandbox.why_not());
    return;
  }
  auto [out, status] = in_child([&]() -> std::string {
    if (!sandbox.join_self()) return "join failed";
    std::vector<char> big(400 * MiB);
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = 1;  // touch: make it resident
    return "survived " + std::to_string(big[4096]);
  });
  INFO("child said: " << out);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("inside a real memory cgroup page cache does not shrink the budget", "[budget]") {
  trainer_test::ScratchCgroup sandbox(256 * MiB);
  if (!sandbox.ok()) {
    WARN("skipped: cannot create a memory cgroup here: " << sandbox.why_not());
    return;
  }
  // On disk, not tmpfs: tmpfs pages are shared memory, which is rightly not reclaimable.
  const std::string path =
      std::string(TRAINER_SOURCE_DIR) + "/page-cache-test-" + std::to_string(getpid()) + ".tmp";
  auto [out, status] = in_child([&]() -> std::string {
    if (!sandbox.join_self()) return "join failed";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return "cannot write " + path;
    std::vector<char> chunk(1 * MiB, 'x');
    for (int i = 0; i < 200; ++i) std::fwrite(chunk.data(), 1, chunk.size(), f);
    std::fclose(f);
    f = std::fopen(path.c_str(), "rb");
    while (f && std::fread(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
    }
    if (f) std::fclose(f);
    RealSystemProbe probe;
    Budget b = resolve_budget(SizeSpec{}, 0.0, probe);
    std::ifstream in(sandbox.dir() + (sandbox.version() == CgroupVersion::v2
                                          ? "/memory.current"
                                          : "/memory.usage_in_bytes"));
    std::uint64_t used = 0;
    in >> used;
    return b.source + " " + std::to_string(b.raw_bytes) + " " + std::to_string(used);
  });
  std::remove(path.c_str());
  REQUIRE(WIFEXITED(status));
  INFO("child said: " << out);
  std::istringstream fields(out);
  std::string source;
  std::uint64_t raw = 0, used = 0;
  fields >> source >> raw >> used;
  CHECK(used >= 128 * MiB);  // the cache really was charged to the cgroup...
  CHECK(source == "cgroup");
  CHECK(raw >= 200 * MiB);  // ...and the budget still offers nearly all of the limit
}
