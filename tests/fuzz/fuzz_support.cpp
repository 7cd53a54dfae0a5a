#include "fuzz_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "trainer/log.hpp"

namespace trainer_fuzz {
namespace {

std::string make_scratch() {
  // /dev/shm first: tmpfs makes the writers' fsync and rename free.
  std::string base = "/tmp";
  if (const char* env = std::getenv("TRAINER_FUZZ_TMP")) {
    base = env;
  } else if (std::filesystem::is_directory("/dev/shm")) {
    base = "/dev/shm";
  }
  std::string pattern = base + "/trainer-fuzz-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("trainer fuzz: mkdtemp");
    std::abort();
  }
  return pattern;
}

void remove_scratch() {
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir(), ec);
}

}  // namespace

const std::string& scratch_dir() {
  // Never destroyed: the exit handler that removes the folder runs after static destructors.
  static const std::string* const dir = [] {
    auto* d = new std::string(make_scratch());
    std::atexit(remove_scratch);
    return d;
  }();
  return *dir;
}

std::string write_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror("trainer fuzz: open");
    std::abort();
  }
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      std::perror("trainer fuzz: write");
      std::abort();
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

void clear_dir(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    std::filesystem::remove_all(entry.path(), ec);
}

void quiet_logs() { trainer::log::configure(trainer::log::Format::text, true); }

}  // namespace trainer_fuzz
