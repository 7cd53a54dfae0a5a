#include "trainer/trial.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <new>

#include "trainer/error.hpp"

namespace trainer {
namespace {

// ---- Child side: nothing here allocates, because the child may be at its limit. ----------

// Reads a small /proc file into buf (NUL-terminated); returns false on failure.
bool read_small(const char* path, char* buf, std::size_t size) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::size_t used = 0;
  while (used + 1 < size) {
    ssize_t n = ::read(fd, buf + used, size - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  buf[used] = '\0';
  return used > 0;
}

// "Key:   123 kB" in a /proc/self/status buffer, in bytes.
std::uint64_t status_field(const char* buf, const char* key) {
  const std::size_t len = std::strlen(key);
  for (const char* line = buf; line && *line; line = std::strchr(line, '\n')) {
    if (*line == '\n') ++line;
    if (std::strncmp(line, key, len) == 0 && line[len] == ':')
      return std::strtoull(line + len + 1, nullptr, 10) * 1024;
  }
  return 0;
}

// Resident anonymous bytes from /proc/self/statm: resident minus shared (file + shmem) pages.
std::uint64_t statm_anon(std::uint64_t page) {
  char buf[256];
  if (!read_small("/proc/self/statm", buf, sizeof buf)) return 0;
  char* p = buf;
  std::strtoull(p, &p, 10);  // size
  const std::uint64_t resident = std::strtoull(p, &p, 10);
  const std::uint64_t shared = std::strtoull(p, &p, 10);
  return resident > shared ? (resident - shared) * page : 0;
}

struct Sampler {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> peak_anon{0};
  std::uint64_t page = 4096;

  void sample() {
    const std::uint64_t now = statm_anon(page);
    std::uint64_t seen = peak_anon.load(std::memory_order_relaxed);
    while (now > seen && !peak_anon.compare_exchange_weak(seen, now)) {
    }
  }
};

void* sampler_loop(void* arg) {
  auto* s = static_cast<Sampler*>(arg);
  while (!s->stop.load(std::memory_order_relaxed)) {
    s->sample();
    timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  return nullptr;
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

[[noreturn]] void child_main(int report_fd, std::uint64_t limit_bytes,
                             const std::function<void()>& work) {
  // Parent handlers (a test framework's crash reporter, the trainer's SIGINT checkpoint) must
  // not run here: the parent reads the signal from the exit status.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGINT, SIGTERM, SIGPIPE})
    ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct rlimit no_core {};  // zero: no core file
  setrlimit(RLIMIT_CORE, &no_core);

  int code = 0;
  char message[512] = "";
  // Under an inherited hard limit (prlimit --data, ulimit -d) only root may raise it, and the
  // child cannot use more than it anyway: clamp instead of failing every trial.
  struct rlimit inherited {};
  rlim_t wanted = static_cast<rlim_t>(limit_bytes);
  if (getrlimit(RLIMIT_DATA, &inherited) == 0 && inherited.rlim_max != RLIM_INFINITY &&
      inherited.rlim_max < wanted)
    wanted = inherited.rlim_max;
  struct rlimit data_limit {};
  data_limit.rlim_cur = data_limit.rlim_max = wanted;
  if (setrlimit(RLIMIT_DATA, &data_limit) != 0) {
    code = 1;
    std::snprintf(message, sizeof message, "setrlimit(RLIMIT_DATA) failed: %s",
                  std::strerror(errno));
  }

  // VmHWM restarts from the current RSS: the peak reported is this trial's, not the parent's.
  {
    int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] const ssize_t ignored = ::write(fd, "5", 1);  // best effort
      ::close(fd);
    }
  }

  Sampler sampler;
  sampler.page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  sampler.sample();
  pthread_t thread{};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);  // counts against RLIMIT_DATA: keep it small
  const bool sampling = code == 0 && pthread_create(&thread, &attr, sampler_loop, &sampler) == 0;
  pthread_attr_destroy(&attr);

  if (code == 0) {
    try {
      work();
    } catch (const std::bad_alloc&) {
      code = static_cast<int>(ExitCode::budget);
      std::snprintf(message, sizeof message,
                    "out of memory (std::bad_alloc) under a %llu-byte data limit",
                    static_cast<unsigned long long>(wanted));
    } catch (const Error& e) {
      code = e.exit_code() == 0 ? 1 : e.exit_code();
      std::snprintf(message, sizeof message, "%s", e.what());
    } catch (const std::exception& e) {
      code = static_cast<int>(ExitCode::runtime);
      std::snprintf(message, sizeof message, "%s", e.what());
    } catch (...) {
      code = static_cast<int>(ExitCode::runtime);
      std::snprintf(message, sizeof message, "unknown exception");
    }
  }

  if (sampling) {
    sampler.stop.store(true);
    pthread_join(thread, nullptr);
  }
  sampler.sample();
  char status[8192];
  std::uint64_t hwm = 0, vm_data = 0;
  if (read_small("/proc/self/status", status, sizeof status)) {
    hwm = status_field(status, "VmHWM");
    vm_data = status_field(status, "VmData");
    // Without the sampler thread, the high-water mark less the file pages still resident
    // stands in for the peak. Not otherwise: file pages released (madvise) before the end
    // count in VmHWM but not in RssFile, which overstated the peak by the data read.
    const std::uint64_t file = status_field(status, "RssFile") + status_field(status, "RssShmem");
    const std::uint64_t anon = std::max(status_field(status, "RssAnon"),
                                        !sampling && hwm > file ? hwm - file : 0);
    if (anon > sampler.peak_anon.load()) sampler.peak_anon.store(anon);
  }
  char record[700];
  const int n = std::snprintf(record, sizeof record, "R %d %llu %llu %llu\n%s", code,
                              static_cast<unsigned long long>(hwm),
                              static_cast<unsigned long long>(sampler.peak_anon.load()),
                              static_cast<unsigned long long>(vm_data), message);
  if (n > 0) write_all(report_fd, record, std::min(static_cast<std::size_t>(n), sizeof record - 1));
  ::close(report_fd);
  _exit(code);
}

// ---- Parent side -------------------------------------------------------------------------

std::string signal_reason(int sig) {
  std::string name =
      sigabbrev_np(sig) ? std::string("SIG") + sigabbrev_np(sig) : std::to_string(sig);
  std::string reason = "killed by " + name;
  if (sig == SIGKILL) reason += " (the OOM killer?)";
  return reason;
}

}  // namespace

std::uint64_t default_thread_stack_bytes() {
  pthread_attr_t attr;
  std::size_t size = 0;
  if (pthread_attr_init(&attr) == 0) {
    pthread_attr_getstacksize(&attr, &size);
    pthread_attr_destroy(&attr);
  }
  return size;
}

bool set_default_thread_stack(std::uint64_t bytes) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  const bool ok = pthread_attr_setstacksize(&attr, static_cast<std::size_t>(bytes)) == 0 &&
                  pthread_setattr_default_np(&attr) == 0;
  pthread_attr_destroy(&attr);
  return ok;
}

std::uint64_t data_limit_for(std::uint64_t anon_budget, const ProcessMemory& now, int new_threads,
                             std::uint64_t thread_stack_bytes) {
  const std::uint64_t reserved = now.vm_data > now.rss_anon ? now.vm_data - now.rss_anon : 0;
  const std::uint64_t stacks =
      static_cast<std::uint64_t>(new_threads > 0 ? new_threads : 0) * thread_stack_bytes;
  const std::uint64_t extra = reserved + stacks;
  constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  return anon_budget > most - extra ? most : anon_budget + extra;
}

TrialResult run_trial(std::uint64_t limit_bytes, std::chrono::milliseconds timeout,
                      const std::function<void()>& work) {
  using clock = std::chrono::steady_clock;
  TrialResult result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw Error::runtime("memory trial",
                         std::string("cannot create a pipe: ") + std::strerror(errno));
  std::fflush(nullptr);  // or the child's exit path could not, and buffered output is not doubled
  const auto start = clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error::runtime("memory trial", std::string("cannot fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], limit_bytes, work);
  }
  ::close(fds[1]);

  std::string report;
  const auto deadline = start + timeout;
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // timeout is caught at the top of the loop
    char buf[512];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child has written its report or died
    report.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (result.timed_out) ::kill(pid, SIGKILL);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.elapsed_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count());

  int reported_code = -1;
  unsigned long long hwm = 0, anon = 0, data = 0;
  std::string message;
  if (!report.empty() &&
      std::sscanf(report.c_str(), "R %d %llu %llu %llu", &reported_code, &hwm, &anon, &data) == 4) {
    result.peak_rss = hwm;
    result.peak_anon = anon;
    result.vm_data = data;
    auto newline = report.find('\n');
    if (newline != std::string::npos) message = report.substr(newline + 1);
  }

  if (result.timed_out) {
    result.signal = SIGKILL;
    result.reason = "no answer within " + std::to_string(timeout.count()) + " ms; killed";
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.reason = signal_reason(result.signal);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code == 0 && reported_code == 0) {
      result.fits = true;
    } else if (reported_code < 0) {
      result.reason = "exited with code " + std::to_string(result.exit_code) + " without a report";
    } else {
      result.reason =
          message.empty() ? "exited with code " + std::to_string(result.exit_code) : message;
    }
  }
  return result;
}

}  // namespace trainer
