#include <catch2/catch.hpp>

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
  p.status = "VmHWM:\t 900 kB\nVmRSS:\t 800 kB\nRssAnon:\t 500 kB\nRssFile:\t 300 kB\n"
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
