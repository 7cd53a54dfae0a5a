#include "trainer/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "trainer/error.hpp"

namespace trainer {

void write_file_atomically(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  const std::string valid = "a path in an existing, writable folder with free space";
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) throw Error::runtime(path, std::string("cannot create a temporary file: ") + std::strerror(errno), valid);
  // Closes and removes the temporary file, then names the failed step and errno.
  const auto fail = [&](const char* step, int err) {
    ::close(fd);
    ::unlink(temp.c_str());
    return Error::runtime(path, std::string(step) + ": " + std::strerror(err), valid);
  };
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw fail("write failed", errno);
    done += static_cast<std::size_t>(n);
  }
  // mkstemp makes the file 0600; an exported model is for sharing.
  if (::fchmod(fd, 0644) != 0) throw fail("chmod failed", errno);
  if (::fsync(fd) != 0) throw fail("fsync failed", errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw Error::runtime(path, std::string("close failed: ") + std::strerror(err), valid);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw Error::runtime(path, std::string("cannot rename into place: ") + std::strerror(err), valid);
  }
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems refuse fsync on folders
    ::close(dir);
  }
}

}  // namespace trainer
