#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "support/scratch_cgroup.hpp"

namespace trainer_test {
namespace {

// Returns 0 or the errno of the failed open/write (cgroup files report errors on write).
int write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    err = errno ? errno : EIO;
  ::close(fd);
  return err;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool has_word(const std::string& text, const std::string& word) {
  std::string::size_type pos = 0;
  while ((pos = text.find(word, pos)) != std::string::npos) {
    const bool start = pos == 0 || text[pos - 1] == ' ' || text[pos - 1] == '\n';
    const auto end = pos + word.size();
    if (start && (end == text.size() || text[end] == ' ' || text[end] == '\n')) return true;
    pos = end;
  }
  return false;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

ScratchCgroup::ScratchCgroup(std::uint64_t limit_bytes) {
  if (geteuid() != 0) {
    why_not_ = "not running as root";
    return;
  }
  trainer::RealSystemProbe probe;
  auto text = probe.self_cgroup();
  if (!text) {
    why_not_ = "/proc/self/cgroup is unreadable";
    return;
  }
  auto membership = trainer::parse_cgroup_membership(*text);
  static std::atomic<int> counter{0};
  const std::string name =
      "/trainer-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::string reasons;

  // cgroup v2 first: usable when the memory controller reaches our cgroup and can be
  // delegated to a child of it.
  if (membership.v2) {
    auto own = probe.cgroup_dir(trainer::CgroupVersion::v2, *membership.v2);
    if (own && has_word(read_file(*own + "/cgroup.controllers"), "memory")) {
      int err = 0;
      if (!has_word(read_file(*own + "/cgroup.subtree_control"), "memory"))
        err = write_file(*own + "/cgroup.subtree_control", "+memory");
      if (err != 0) {
        reasons += "v2: cannot enable the memory controller in " + *own + " (" +
                   std::strerror(err) +
                   "; a cgroup with processes in it cannot delegate controllers); ";
      } else if (::mkdir((*own + name).c_str(), 0755) != 0) {
        reasons += "v2: mkdir " + *own + name + ": " + std::strerror(errno) + "; ";
      } else if ((err = write_file(*own + name + "/memory.max", std::to_string(limit_bytes))) !=
                 0) {
        reasons += "v2: writing memory.max: " + std::string(std::strerror(err)) + "; ";
        ::rmdir((*own + name).c_str());
      } else {
        write_file(*own + name + "/memory.swap.max", "0");  // a swapping child is not a fit
        dir_ = *own + name;
        version_ = trainer::CgroupVersion::v2;
        ok_ = true;
        return;
      }
    } else {
      reasons += "v2: no memory controller in the unified hierarchy; ";
    }
  }
  if (membership.v1_memory) {
    auto own = probe.cgroup_dir(trainer::CgroupVersion::v1, *membership.v1_memory);
    int err = 0;
    if (!own || !is_dir(*own)) {
      reasons += "v1: memory hierarchy not mounted; ";
    } else if (::mkdir((*own + name).c_str(), 0755) != 0) {
      reasons += "v1: mkdir " + *own + name + ": " + std::strerror(errno) + "; ";
    } else if ((err = write_file(*own + name + "/memory.limit_in_bytes",
                                 std::to_string(limit_bytes))) != 0) {
      reasons += "v1: writing memory.limit_in_bytes: " + std::string(std::strerror(err)) + "; ";
      ::rmdir((*own + name).c_str());
    } else {
      write_file(*own + name + "/memory.memsw.limit_in_bytes", std::to_string(limit_bytes));
      dir_ = *own + name;
      version_ = trainer::CgroupVersion::v1;
      ok_ = true;
      return;
    }
  } else {
    reasons += "v1: no memory line in /proc/self/cgroup; ";
  }
  why_not_ = reasons.empty() ? "no cgroup hierarchy found" : reasons.substr(0, reasons.size() - 2);
}

ScratchCgroup::~ScratchCgroup() {
  if (!ok_) return;
  // The last member may still be exiting right after it was reaped.
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool ScratchCgroup::join_self() const {
  if (!ok_) return false;
  return write_file(procs_file(), "0") == 0;
}

}  // namespace trainer_test
