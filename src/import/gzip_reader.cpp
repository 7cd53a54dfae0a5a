#include "gzip_reader.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "trainer/error.hpp"

namespace trainer::import_detail {
namespace {
constexpr std::size_t kBufferBytes = std::size_t{1} << 17;
}

GzipReader::GzipReader(std::string path) : path_(std::move(path)), buffer_(kBufferBytes) {
  struct stat info {};
  if (::stat(path_.c_str(), &info) != 0) {
    const int err = errno;
    throw Error::data(path_, std::string("cannot open: ") + std::strerror(err));
  }
  if (!S_ISREG(info.st_mode)) throw Error::data(path_, "not a regular file", "a CSV or IDX file, gzip'd or not");
  file_ = gzopen(path_.c_str(), "rb");
  if (file_ == nullptr) {
    const int err = errno;
    throw Error::data(path_, std::string("cannot open: ") + std::strerror(err));
  }
  gzbuffer(file_, static_cast<unsigned>(kBufferBytes));
}

GzipReader::~GzipReader() {
  if (file_ != nullptr) gzclose(file_);
}

bool GzipReader::fill() {
  begin_ = 0;
  end_ = 0;
  const int got = gzread(file_, buffer_.data(), static_cast<unsigned>(buffer_.size()));
  int code = Z_OK;
  const char* message = gzerror(file_, &code);
  // Z_BUF_ERROR at the end means the gzip stream stopped in the middle (a truncated download).
  if (got < 0 || (code != Z_OK && code != Z_STREAM_END)) {
    throw Error::data(path_, std::string("corrupt or truncated gzip data: ") + (message ? message : "?"));
  }
  end_ = static_cast<std::size_t>(got);
  return end_ > 0;
}

bool GzipReader::read_line(std::string& line) {
  line.clear();
  for (;;) {
    if (begin_ == end_ && !fill()) {  // a last line without '\n'
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return !line.empty();
    }
    const char* start = buffer_.data() + begin_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (newline != nullptr) {
      line.append(start, newline);
      begin_ += static_cast<std::size_t>(newline - start) + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return true;
    }
    line.append(start, end_ - begin_);
    begin_ = end_;
    if (line.size() > (std::size_t{1} << 30)) throw Error::data(path_, "a line longer than 1 GiB", "a text file with line breaks");
  }
}

std::size_t GzipReader::read(void* out, std::size_t n) {
  auto* dst = static_cast<char*>(out);
  std::size_t done = 0;
  while (done < n) {
    if (begin_ == end_ && !fill()) break;
    const std::size_t take = std::min(n - done, end_ - begin_);
    std::memcpy(dst + done, buffer_.data() + begin_, take);
    begin_ += take;
    done += take;
  }
  return done;
}

void GzipReader::rewind() {
  if (gzrewind(file_) != 0) throw Error::data(path_, "cannot rewind for the second pass");
  begin_ = end_ = 0;
}

}  // namespace trainer::import_detail
