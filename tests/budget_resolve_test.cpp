#include <catch2/catch.hpp>
#include <limits>

#include "trainer/budget.hpp"
#include "trainer/error.hpp"
#include "trainer/fake_system_probe.hpp"

using namespace trainer;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
constexpr std::uint64_t GiB = 1024 * MiB;

// A machine with 8 GiB available, no limits, and a process holding `anon` bytes of anonymous
// memory (VmData and VmSize equal to it unless given).
FakeSystemProbe machine(std::uint64_t anon, std::uint64_t vm_data = 0, std::uint64_t vm_size = 0) {
  FakeSystemProbe p;
  p.mem = "MemTotal:       16777216 kB\nMemFree:  1000 kB\nMemAvailable:    " +
          std::to_string(8 * GiB / 1024) + " kB\n";
  p.status = "Name:\ttrainer\nVmSize:\t" + std::to_string((vm_size ? vm_size : anon) / 1024) +
             " kB\nVmHWM:\t" + std::to_string(anon / 1024) + " kB\nVmRSS:\t" +
             std::to_string(anon / 1024) + " kB\nRssAnon:\t" + std::to_string(anon / 1024) +
             " kB\nRssFile:\t0 kB\nVmData:\t" + std::to_string((vm_data ? vm_data : anon) / 1024) +
             " kB\n";
  return p;
}

SizeSpec auto_ram() { return SizeSpec{SizeSpec::Kind::automatic, 0}; }
SizeSpec given(std::uint64_t bytes) { return SizeSpec{SizeSpec::Kind::bytes, bytes}; }

const BudgetCandidate* find(const Budget& b, const std::string& source) {
  for (const auto& c : b.candidates)
    if (c.source == source) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("the smallest budget source wins and is reported with every candidate", "[budget]") {
  FakeSystemProbe p = machine(40 * MiB);
  p.cgroup = "0::/job\n";
  p.v2_files["/job/memory.max"] = std::to_string(512 * MiB) + "\n";
  p.v2_files["/job/memory.current"] = std::to_string(40 * MiB) + "\n";  // only our own anon
  p.rlimits[Rlimit::data] = 2 * GiB;
  p.rlimits[Rlimit::address_space] = 4 * GiB;

  Budget b = resolve_budget(given(1 * GiB), 0.0, p, "memory.ram");
  CHECK(b.source == "cgroup");
  CHECK(b.raw_bytes == 512 * MiB);
  CHECK(b.bytes == 512 * MiB);
  CHECK(b.enforced);
  REQUIRE(b.candidates.size() == 5);
  REQUIRE(find(b, "memory.ram"));
  CHECK(find(b, "memory.ram")->bytes == 1 * GiB);
  REQUIRE(find(b, "meminfo"));
  CHECK(find(b, "meminfo")->bytes == 8 * GiB + 40 * MiB);
  REQUIRE(find(b, "rlimit_data"));
  CHECK(find(b, "rlimit_data")->bytes == 2 * GiB);
  REQUIRE(find(b, "rlimit_as"));
  CHECK(find(b, "rlimit_as")->bytes == 4 * GiB);

  Budget explicit_wins = resolve_budget(given(100 * MiB), 0.0, p, "--ram");
  CHECK(explicit_wins.source == "--ram");
  CHECK(explicit_wins.raw_bytes == 100 * MiB);

  p.rlimits[Rlimit::data] = 300 * MiB;
  Budget rlimit_wins = resolve_budget(auto_ram(), 0.0, p);
  CHECK(rlimit_wins.source == "rlimit_data");
  CHECK(rlimit_wins.raw_bytes == 300 * MiB);
}

TEST_CASE("cgroup v1 membership and files are read", "[budget]") {
  FakeSystemProbe p = machine(30 * MiB);
  // A hybrid host: the v2 line exists but its hierarchy has no memory controller.
  p.cgroup = "9:name=systemd:/\n5:cpuacct,cpu:/\n4:memory:/jobs/a\n0::/\n";
  p.v1_files["/memory.limit_in_bytes"] = "9223372036854771712\n";
  p.v1_files["/jobs/memory.limit_in_bytes"] = "9223372036854771712\n";
  p.v1_files["/jobs/a/memory.limit_in_bytes"] = std::to_string(300 * MiB) + "\n";
  p.v1_files["/jobs/a/memory.usage_in_bytes"] = std::to_string(100 * MiB) + "\n";
  p.v1_files["/jobs/a/memory.stat"] =
      "cache 1000\nactive_file 1000\ninactive_file 0\n"
      "total_cache " +
      std::to_string(60 * MiB) + "\ntotal_active_file " + std::to_string(40 * MiB) +
      "\ntotal_inactive_file " + std::to_string(20 * MiB) + "\n";

  Budget b = resolve_budget(auto_ram(), 0.0, p);
  CHECK(b.source == "cgroup");
  // others = 100 - 60 (page cache) - 30 (ours) = 10 MiB
  CHECK(b.raw_bytes == 290 * MiB);
  REQUIRE(find(b, "cgroup"));
  CHECK_THAT(find(b, "cgroup")->detail, Catch::Contains("v1 /jobs/a"));
}

TEST_CASE("in nested cgroups the tightest ancestor wins", "[budget]") {
  FakeSystemProbe p = machine(50 * MiB);
  p.cgroup = "0::/a/b/c\n";
  p.v2_files["/a/b/c/memory.max"] = std::to_string(400 * MiB);
  p.v2_files["/a/b/c/memory.current"] = std::to_string(60 * MiB);
  p.v2_files["/a/b/c/memory.stat"] =
      "anon 52428800\nfile 10485760\nactive_file 10485760\ninactive_file 0\n";
  p.v2_files["/a/b/memory.max"] = "max\n";
  p.v2_files["/a/memory.max"] = std::to_string(600 * MiB);
  p.v2_files["/a/memory.current"] = std::to_string(500 * MiB);
  p.v2_files["/a/memory.stat"] = "file 104857600\nactive_file 52428800\ninactive_file 52428800\n";

  Budget b = resolve_budget(auto_ram(), 0.0, p);
  // c: 400 - (60 - 10 - 50) = 400. a: 600 - (500 - 100 - 50) = 250: the looser limit is tighter.
  CHECK(b.source == "cgroup");
  CHECK(b.raw_bytes == 250 * MiB);
  CHECK_THAT(find(b, "cgroup")->detail, Catch::StartsWith("v2 /a:"));
}

TEST_CASE("a cgroup limit of max is no limit", "[budget]") {
  FakeSystemProbe p = machine(10 * MiB);
  p.cgroup = "0::/user.slice\n";
  p.v2_files["/user.slice/memory.max"] = "max\n";
  p.v2_files["/user.slice/memory.current"] = std::to_string(5 * GiB);
  Budget b = resolve_budget(auto_ram(), 0.0, p);
  CHECK(find(b, "cgroup") == nullptr);
  CHECK(b.source == "meminfo");
  CHECK(b.raw_bytes == 8 * GiB + 10 * MiB);
}

TEST_CASE("page cache in a cgroup does not shrink the budget", "[budget]") {
  FakeSystemProbe p = machine(40 * MiB);
  p.cgroup = "0::/sandbox\n";
  p.v2_files["/sandbox/memory.max"] = std::to_string(256 * MiB);
  p.v2_files["/sandbox/memory.current"] = std::to_string(250 * MiB);
  // 200 MiB of mapped data in the page cache, 10 MiB shared memory of someone else.
  p.v2_files["/sandbox/memory.stat"] =
      "anon 41943040\nfile 220200960\nshmem 10485760\nactive_file 157286400\ninactive_file "
      "52428800\n";
  Budget b = resolve_budget(auto_ram(), 0.0, p);
  CHECK(b.source == "cgroup");
  CHECK(b.raw_bytes == 246 * MiB);  // 256 - (250 - 200 - 40)

  // Without LRU counters, file minus shmem is the reclaimable part.
  p.v2_files["/sandbox/memory.stat"] = "anon 41943040\nfile 220200960\nshmem 10485760\n";
  CHECK(resolve_budget(auto_ram(), 0.0, p).raw_bytes == 246 * MiB);
}

TEST_CASE("headroom is taken off the winning source", "[budget]") {
  FakeSystemProbe p = machine(1 * MiB);
  Budget b = resolve_budget(given(1000 * MiB), 0.1, p);
  CHECK(b.raw_bytes == 1000 * MiB);
  CHECK(b.bytes == 900 * MiB);
  try {
    resolve_budget(given(1000 * MiB), 1.0, p);
    FAIL("headroom 1.0 accepted");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(e.where() == "/memory/headroom");
  }
  CHECK_THROWS_AS(resolve_budget(given(1000 * MiB), -0.1, p), Error);
}

TEST_CASE("ram none disables enforcement but still lists the sources", "[budget]") {
  FakeSystemProbe p = machine(1 * MiB);
  p.rlimits[Rlimit::data] = 64 * MiB;
  Budget b = resolve_budget(SizeSpec{SizeSpec::Kind::none, 0}, 0.05, p);
  CHECK_FALSE(b.enforced);
  CHECK(b.source == "none");
  CHECK(b.bytes == std::numeric_limits<std::uint64_t>::max());
  CHECK(find(b, "rlimit_data") != nullptr);
}

TEST_CASE("rlimits are reduced by memory already reserved outside the resident anon", "[budget]") {
  // 20 MiB resident anon, but 100 MiB of VmData (untouched stacks, arenas) and 300 MiB VmSize.
  FakeSystemProbe p = machine(20 * MiB, 100 * MiB, 300 * MiB);
  p.rlimits[Rlimit::data] = 1 * GiB;
  p.rlimits[Rlimit::address_space] = 1 * GiB + 100 * MiB;
  Budget b = resolve_budget(auto_ram(), 0.0, p);
  CHECK(find(b, "rlimit_data")->bytes == 1 * GiB - 80 * MiB);
  CHECK(find(b, "rlimit_as")->bytes == 1 * GiB + 100 * MiB - 280 * MiB);
  CHECK(b.source == "rlimit_as");
}

TEST_CASE("auto with no readable source is not enforced", "[budget]") {
  FakeSystemProbe p;  // nothing at all
  Budget b = resolve_budget(auto_ram(), 0.05, p);
  CHECK(b.candidates.empty());
  CHECK(b.source == "none");
  CHECK_FALSE(b.enforced);
}
