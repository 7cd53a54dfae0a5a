#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <vector>

#include "trainer/rss_watch.hpp"

using namespace trainer;

namespace {

std::string statm_file(const std::string& text) {
  std::string path = "/tmp/trainer-statm-" + std::to_string(getpid());
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("RssWatch reads resident minus shared pages and keeps the peak", "[budget]") {
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::string path = statm_file("5000 1000 300 10 0 2000 0\n");
  RssWatch watch(path);
  CHECK(watch.sample() == 700 * page);
  std::ofstream(path) << "5000 500 300 10 0 2000 0\n";
  CHECK(watch.sample() == 200 * page);
  CHECK(watch.peak() == 700 * page);
  std::remove(path.c_str());
}

TEST_CASE("RssWatch warns when the peak exceeds the plan by more than the headroom", "[budget]") {
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::string path = statm_file("0 1060 0 0 0 0 0\n");
  RssWatch watch(path);
  watch.sample();
  std::remove(path.c_str());
  const std::uint64_t plan = 1000 * page;
  auto warning = watch.overrun_warning(plan, 0.05);  // 1060 > 1050
  REQUIRE(warning);
  CHECK_THAT(*warning, Catch::Contains("MiB") && Catch::Contains("plan"));
  CHECK_FALSE(watch.overrun_warning(plan, 0.07));  // 1060 <= 1070
}

TEST_CASE("RssWatch sees this process's anonymous memory grow", "[budget]") {
  RssWatch watch;
  const std::uint64_t before = watch.sample();
  CHECK(before > 0);
  std::vector<char> block(64 << 20);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
  const std::uint64_t after = watch.sample();
  CHECK(after >= before + (60u << 20));
  CHECK(watch.peak() == after);
}
