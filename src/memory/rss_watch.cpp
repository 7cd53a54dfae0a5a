#include "trainer/rss_watch.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace trainer {

RssWatch::RssWatch(std::string statm_path)
    : path_(std::move(statm_path)), page_(static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE))) {}

std::uint64_t RssWatch::sample() {
  char buf[256];
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // "size resident shared text lib data dt", in pages; shared = file + shmem pages.
  char* p = buf;
  std::strtoull(p, &p, 10);
  const std::uint64_t resident = std::strtoull(p, &p, 10);
  const std::uint64_t shared = std::strtoull(p, &p, 10);
  const std::uint64_t anon = resident > shared ? (resident - shared) * page_ : 0;
  if (anon > peak_) peak_ = anon;
  return anon;
}

std::optional<std::string> RssWatch::overrun_warning(std::uint64_t planned_bytes,
                                                     double headroom) const {
  const long double allowed = static_cast<long double>(planned_bytes) * (1.0L + headroom);
  if (static_cast<long double>(peak_) <= allowed) return std::nullopt;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "resident anonymous memory peaked at %.1f MiB, above the plan's %.1f MiB by more "
                "than the %.0f%% headroom: the memory plan misses something",
                static_cast<double>(peak_) / 1048576.0,
                static_cast<double>(planned_bytes) / 1048576.0, headroom * 100.0);
  return std::string(buf);
}

}  // namespace trainer
