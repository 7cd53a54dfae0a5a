#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "trainer/fake_system_probe.hpp"
#include "trainer/system_probe.hpp"

using namespace trainer;

TEST_CASE("cgroup membership lines are parsed for v1 and v2", "[budget]") {
  auto v2 = parse_cgroup_membership("0::/user.slice/user-0.slice/session-3.scope\n");
  REQUIRE(v2.v2);
  CHECK(*v2.v2 == "/user.slice/user-0.slice/session-3.scope");
  CHECK_FALSE(v2.v1_memory);

  auto v1 = parse_cgroup_membership(
      "12:pids:/x\n4:memory,hugetlb:/docker/abc:def\n2:cpu,cpuacct:/y\n1:name=systemd:/z\n");
  REQUIRE(v1.v1_memory);
  CHECK(*v1.v1_memory == "/docker/abc:def");
  CHECK_FALSE(v1.v2);
}

TEST_CASE("cgroup limit files: numbers, max and v1 unlimited", "[budget]") {
  CHECK(parse_cgroup_limit("268435456\n") == std::optional<std::uint64_t>(268435456));
  CHECK_FALSE(parse_cgroup_limit("max\n"));
  CHECK_FALSE(parse_cgroup_limit("9223372036854771712\n"));
  CHECK_FALSE(parse_cgroup_limit(""));
  CHECK_FALSE(parse_cgroup_limit("12abc"));
}

TEST_CASE("meminfo and status fields are read in bytes", "[budget]") {
  const std::string info = "MemTotal:  100 kB\nMemAvailable:     2048 kB\nHugePages_Total: 3\n";
  CHECK(parse_kb_field(info, "MemAvailable") == std::optional<std::uint64_t>(2048 * 1024));
  CHECK(parse_kb_field(info, "HugePages_Total") == std::optional<std::uint64_t>(3));
  CHECK_FALSE(parse_kb_field(info, "MemFree"));
  CHECK_FALSE(parse_kb_field(info, "Mem"));  // a prefix of a key is not the key

  FakeSystemProbe p;
  p.status =
      "VmHWM:\t 900 kB\nVmRSS:\t 800 kB\nRssAnon:\t 500 kB\nRssFile:\t 300 kB\n"
      "VmData:\t 2000 kB\nVmSize:\t 9000 kB\n";
  ProcessMemory pm = process_memory(p);
  CHECK(pm.vm_hwm == 900 * 1024);
  CHECK(pm.vm_rss == 800 * 1024);
  CHECK(pm.rss_anon == 500 * 1024);
  CHECK(pm.rss_file == 300 * 1024);
  CHECK(pm.vm_data == 2000 * 1024);
  CHECK(pm.vm_size == 9000 * 1024);

  auto kv = parse_key_values("anon 10\nfile 20\nbroken\n");
  CHECK(kv.at("anon") == 10);
  CHECK(kv.at("file") == 20);
  CHECK(kv.count("broken") == 0);
}

namespace {

void put(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("the real probe reads a copied tree under configurable roots", "[budget]") {
  const auto root =
      std::filesystem::temp_directory_path() / ("trainer-probe-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  put(root / "proc/self/cgroup", "0::/docker/abc/job\n");
  put(root / "proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 900 kB\n");
  put(root / "proc/self/status", "RssAnon:\t 4 kB\nVmData:\t 4 kB\n");
  // A container without a cgroup namespace: its mount shows /docker/abc at the mount point.
  put(root / "proc/self/mountinfo",
      "30 20 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,nosuid\n"
      "31 20 0:27 /docker/abc " +
          (root / "cg2").string() + " rw,nosuid shared:9 - cgroup2 cgroup2 rw\n");
  put(root / "cg2/job/memory.max", "524288\n");
  put(root / "cg2/job/memory.current", "4096\n");

  RealSystemProbe probe(RealSystemProbe::Roots{(root / "proc").string(), "", ""});
  CHECK(probe.cgroup_dir(CgroupVersion::v2, "/docker/abc/job") == (root / "cg2/job").string());
  CHECK(probe.cgroup_dir(CgroupVersion::v1, "/x") == std::string("/sys/fs/cgroup/memory/x"));
  auto membership = parse_cgroup_membership(probe.self_cgroup().value_or(""));
  REQUIRE(membership.v2);
  CHECK(probe.cgroup_file(CgroupVersion::v2, *membership.v2, "memory.max") ==
        std::string("524288\n"));
  CHECK(parse_kb_field(probe.meminfo().value_or(""), "MemAvailable") ==
        std::optional<std::uint64_t>(900 * 1024));
  CHECK(process_memory(probe).rss_anon == 4096);
  CHECK_FALSE(probe.cgroup_file(CgroupVersion::v2, "/docker/abc/job", "memory.stat"));

  // Explicit roots bypass discovery.
  RealSystemProbe fixed(
      RealSystemProbe::Roots{(root / "proc").string(), (root / "cg2").string(), "/nowhere"});
  CHECK(fixed.cgroup_file(CgroupVersion::v2, "/job", "memory.current") == std::string("4096\n"));
  std::filesystem::remove_all(root);
}
