#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "trainer/error.hpp"
#include "trainer/trial.hpp"

using namespace trainer;
using namespace std::chrono_literals;

namespace {
constexpr std::uint64_t MiB = 1024 * 1024;

void touch(std::vector<char>& block) {
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
}
}  // namespace

TEST_CASE("a trial that stays below its limit fits and reports a plausible peak", "[trial][real-memory]") {
  TrialResult r = run_trial(1024 * MiB, 10s, [] {
    std::vector<char> block(64 * MiB);
    touch(block);
    // The peak is sampled every millisecond: hold the memory as a real trial holds its storage
    // (the batch search keeps it until after a final sample), or the sampler may see it half-touched.
    std::this_thread::sleep_for(50ms);
  });
  INFO(r.reason);
  CHECK(r.fits);
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == 0);
  CHECK(r.reason.empty());
  CHECK(r.peak_anon >= 64 * MiB);
  CHECK(r.peak_anon < 1024 * MiB);
  CHECK(r.peak_rss >= 64 * MiB);
  CHECK(r.vm_data > 0);
}

TEST_CASE("a trial that allocates beyond its limit does not fit", "[trial][real-memory]") {
  TrialResult r = run_trial(256 * MiB, 10s, [] {
    std::vector<char> block(1024 * MiB);
    touch(block);
  });
  CHECK_FALSE(r.fits);
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.reason, Catch::Contains("bad_alloc"));
  CHECK(r.peak_anon < 256 * MiB);
}

TEST_CASE("a trial that throws trainer::Error fails with its exit code and message", "[trial][real-memory]") {
  TrialResult r = run_trial(512 * MiB, 10s, [] { throw Error::data("x.npy", "bad magic"); });
  CHECK_FALSE(r.fits);
  CHECK(r.exit_code == 3);
  CHECK(r.reason == "x.npy: bad magic");
}

TEST_CASE("a trial that never answers is killed within its timeout", "[trial][real-memory]") {
  TrialResult r = run_trial(512 * MiB, 300ms, [] {
    volatile unsigned spin = 0;
    for (;;) spin = spin + 1;
  });
  CHECK_FALSE(r.fits);
  CHECK(r.timed_out);
  CHECK(r.signal == SIGKILL);
  CHECK_THAT(r.reason, Catch::Contains("300 ms"));
  CHECK(r.elapsed_ms >= 300);
  CHECK(r.elapsed_ms < 2000);
}

TEST_CASE("a trial that segfaults does not fit and names the signal", "[trial][real-memory]") {
  TrialResult r = run_trial(512 * MiB, 10s, [] { std::raise(SIGSEGV); });
  CHECK_FALSE(r.fits);
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == SIGSEGV);
  CHECK_THAT(r.reason, Catch::Contains("SIGSEGV"));
}

TEST_CASE("a trial that exits on its own without a report does not fit", "[trial][real-memory]") {
  TrialResult r = run_trial(512 * MiB, 10s, [] { _exit(0); });
  CHECK_FALSE(r.fits);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.reason, Catch::Contains("without a report"));
}

TEST_CASE("a trial does not write the parent's buffered output twice", "[trial][real-memory]") {
  const std::string path = "/tmp/trainer-trial-stdio-" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  std::fputs("once", f);  // still in the stdio buffer when the child is forked
  TrialResult r = run_trial(512 * MiB, 10s, [] {});
  std::fclose(f);
  std::ifstream in(path);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::remove(path.c_str());
  CHECK(r.fits);
  CHECK(text == "once");
}

TEST_CASE("a trial under a lower inherited hard data limit is clamped to it, not refused",
          "[trial][real-memory]") {
  TrialResult outer = run_trial(512 * MiB, 20s, [] {
    // Without CAP_SYS_RESOURCE a hard limit cannot be raised: shed root's capabilities.
    if (geteuid() == 0 && setuid(65534) != 0) throw Error::runtime("setuid", std::strerror(errno));
    TrialResult fits = run_trial(1024 * MiB, 10s, [] {
      std::vector<char> block(64 * MiB);
      touch(block);
    });
    if (!fits.fits) throw Error::runtime("inner trial below the inherited limit", fits.reason);
    TrialResult too_big = run_trial(1024 * MiB, 10s, [] {
      std::vector<char> block(700 * MiB);
      touch(block);
    });
    if (too_big.fits) throw Error::runtime("inner trial above the inherited limit", "it fitted");
  });
  INFO(outer.reason);
  CHECK(outer.fits);
}

TEST_CASE("the data limit for an anonymous budget adds reserved memory and thread stacks",
          "[trial]") {
  ProcessMemory now;
  now.rss_anon = 10 * MiB;
  now.vm_data = 30 * MiB;  // 20 MiB reserved beyond what is resident
  CHECK(data_limit_for(100 * MiB, now, 2, 8 * MiB) == 100 * MiB + 20 * MiB + 16 * MiB);
  CHECK(data_limit_for(100 * MiB, now, 0, 8 * MiB) == 120 * MiB);
  CHECK(default_thread_stack_bytes() >= 64 * 1024);
}
