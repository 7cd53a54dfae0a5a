// Writing the report: rendered in memory, then a temporary file in the target folder, fsync and
// rename, so a reader never sees half a page and a failed run leaves the old report intact.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "trainer/error.hpp"
#include "trainer/report.hpp"

namespace trainer {

void write_report(const ReportInput& input, const std::string& path, ReportFormat format) {
  const std::string text = format == ReportFormat::svg ? render_svg(input) : render_html(input);
  namespace fs = std::filesystem;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw Error::runtime(path, "folder " + folder.string() + " does not exist", "a path in an existing, writable folder");
  }
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    throw Error::runtime(path, std::string("cannot create a temporary file: ") + std::strerror(errno),
                         "a path in an existing, writable folder");
  }
  const auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return Error::runtime(path, std::string(what) + ": " + std::strerror(err), "a writable folder with free space");
  };
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail("write failed");
    }
    done += static_cast<std::size_t>(n);
  }
  // mkstemp makes the file 0600; a report is for sharing.
  if (::fchmod(fd, 0644) != 0) throw fail("chmod failed");
  if (::fsync(fd) != 0) throw fail("fsync failed");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw Error::runtime(path, std::string("close failed: ") + std::strerror(err), "a writable folder with free space");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw Error::runtime(path, std::string("cannot rename into place: ") + std::strerror(err), "a writable path");
  }
}

}  // namespace trainer
