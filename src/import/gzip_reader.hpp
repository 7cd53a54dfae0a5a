// Sequential reading of a file that may or may not be gzip-compressed (zlib's gzread passes
// plain files through unchanged), by lines for CSV or by exact byte counts for IDX.
// Faults (missing, a folder, a corrupt or truncated gzip stream) throw Error::data naming the file.
// Memory: one fixed read buffer plus the current line.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trainer::import_detail {

class GzipReader {
 public:
  explicit GzipReader(std::string path);
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;
  ~GzipReader();

  // Next line without its '\n' (and without a trailing '\r'); false at end of file.
  bool read_line(std::string& line);
  // Reads up to n bytes; returns how many were read (< n only at end of file).
  std::size_t read(void* out, std::size_t n);
  // Rewinds to the first byte (for a second pass).
  void rewind();

  const std::string& path() const { return path_; }

 private:
  bool fill();  // refills buffer_; false at end of file

  std::string path_;
  gzFile file_ = nullptr;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  std::size_t end_ = 0;
};

}  // namespace trainer::import_detail
