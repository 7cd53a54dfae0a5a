#include "trainer/npy_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "trainer/error.hpp"

namespace trainer {

// The writer emits native bytes and labels them little-endian.
static_assert(std::endian::native == std::endian::little, "npy_writer assumes a little-endian host");

namespace npy_format {

std::string descr(DType dtype) {
  switch (dtype) {
    case DType::b1: return "|b1";
    case DType::u1: return "|u1";
    case DType::u2: return "<u2";
    case DType::u4: return "<u4";
    case DType::u8: return "<u8";
    case DType::i1: return "|i1";
    case DType::i2: return "<i2";
    case DType::i4: return "<i4";
    case DType::i8: return "<i8";
    case DType::f2: return "<f2";
    case DType::f4: return "<f4";
    case DType::f8: return "<f8";
  }
  return "?";
}

bool dtype_of_descr(const std::string& text, DType& out) {
  for (DType d : {DType::b1, DType::u1, DType::u2, DType::u4, DType::u8, DType::i1, DType::i2, DType::i4, DType::i8,
                  DType::f2, DType::f4, DType::f8})
    if (descr(d) == text) {
      out = d;
      return true;
    }
  return false;
}

std::size_t item_size(DType dtype) {
  switch (dtype) {
    case DType::b1: case DType::u1: case DType::i1: return 1;
    case DType::u2: case DType::i2: case DType::f2: return 2;
    case DType::u4: case DType::i4: case DType::f4: return 4;
    case DType::u8: case DType::i8: case DType::f8: return 8;
  }
  return 0;
}

const char* numpy_name(DType dtype) {
  switch (dtype) {
    case DType::b1: return "bool";
    case DType::u1: return "uint8";
    case DType::u2: return "uint16";
    case DType::u4: return "uint32";
    case DType::u8: return "uint64";
    case DType::i1: return "int8";
    case DType::i2: return "int16";
    case DType::i4: return "int32";
    case DType::i8: return "int64";
    case DType::f2: return "float16";
    case DType::f4: return "float32";
    case DType::f8: return "float64";
  }
  return "?";
}

std::string header(DType dtype, std::span<const std::int64_t> shape, std::size_t min_size) {
  std::string dict = "{'descr': '" + descr(dtype) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";  // a Python 1-tuple
  dict += "), }";
  constexpr std::size_t preamble = 10;  // magic(6) + version(2) + HEADER_LEN(2)
  std::size_t total = preamble + dict.size() + 1;  // + '\n'
  if (total < min_size) total = min_size;
  total = (total + 63) / 64 * 64;
  const std::size_t header_len = total - preamble;
  if (header_len > std::numeric_limits<std::uint16_t>::max()) {
    throw Error::runtime("npy header", "shape too long for a version 1.0 header");
  }
  std::string out = "\x93NUMPY";
  out += static_cast<char>(1);
  out += static_cast<char>(0);
  out += static_cast<char>(header_len & 0xff);
  out += static_cast<char>(header_len >> 8);
  out += dict;
  out.append(total - out.size() - 1, ' ');
  out += '\n';
  return out;
}

}  // namespace npy_format

namespace {

std::string errno_text(int err) { return std::strerror(err); }

int create_temp(const std::string& path, const std::string& temp) {
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw Error::runtime(path, "cannot create " + temp + ": " + errno_text(err),
                         "an existing, writable folder");
  }
  return fd;
}

// Writes all bytes at the current offset (offset < 0) or at `offset`, retrying short writes.
void write_all(int fd, const char* bytes, std::size_t n, const std::string& path, off_t offset = -1) {
  while (n > 0) {
    const ssize_t done = offset < 0 ? ::write(fd, bytes, n) : ::pwrite(fd, bytes, n, offset);
    if (done < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      throw Error::runtime(path, "write failed: " + errno_text(err));
    }
    bytes += done;
    n -= static_cast<std::size_t>(done);
    if (offset >= 0) offset += done;
  }
}

// fsync, close, rename into place, then fsync the folder so the rename itself is durable.
void commit(int& fd, const std::string& temp, const std::string& path) {
  if (::fsync(fd) != 0) {
    const int err = errno;
    throw Error::runtime(path, "fsync failed: " + errno_text(err));
  }
  const int rc = ::close(fd);
  fd = -1;
  if (rc != 0) {
    const int err = errno;
    throw Error::runtime(path, "close failed: " + errno_text(err));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    throw Error::runtime(path, "cannot rename " + temp + " into place: " + errno_text(err));
  }
  const auto slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems refuse fsync on folders
    ::close(dir);
  }
}

void discard(int& fd, const std::string& temp) {
  if (fd >= 0) ::close(fd);
  fd = -1;
  ::unlink(temp.c_str());
}

// product(dims) * item, refusing negative dimensions and overflow.
std::uint64_t checked_bytes(std::span<const std::int64_t> dims, std::size_t item, const std::string& path) {
  std::uint64_t total = item;
  for (const auto d : dims) {
    if (d < 0) throw Error::runtime(path, "negative dimension " + std::to_string(d) + " in shape");
    const auto ud = static_cast<std::uint64_t>(d);
    if (ud != 0 && total > std::numeric_limits<std::uint64_t>::max() / ud) {
      throw Error::runtime(path, "shape too large: byte count overflows");
    }
    total *= ud;
  }
  return total;
}

constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

}  // namespace

void write_npy(const std::string& path, DType dtype, std::span<const std::int64_t> shape,
               const void* data) {
  const std::uint64_t bytes = checked_bytes(shape, npy_format::item_size(dtype), path);
  const std::string head = npy_format::header(dtype, shape);
  const std::string temp = path + ".tmp";
  int fd = create_temp(path, temp);
  try {
    write_all(fd, head.data(), head.size(), path);
    write_all(fd, static_cast<const char*>(data), bytes, path);
    commit(fd, temp, path);
  } catch (...) {
    discard(fd, temp);
    throw;
  }
}

NpyStreamWriter::NpyStreamWriter(std::string path, DType dtype, std::vector<std::int64_t> row_shape)
    : path_(std::move(path)), temp_path_(path_ + ".tmp"), dtype_(dtype), row_shape_(std::move(row_shape)) {
  row_bytes_ = checked_bytes(row_shape_, npy_format::item_size(dtype_), path_);
  for (const auto d : row_shape_) row_elements_ *= d;
  // Room for any row count: the header of the widest possible first dimension.
  std::vector<std::int64_t> widest{std::numeric_limits<std::int64_t>::max()};
  widest.insert(widest.end(), row_shape_.begin(), row_shape_.end());
  const std::string head = npy_format::header(dtype_, widest);
  header_size_ = head.size();
  buffer_.reserve(kBufferBytes);
  fd_ = create_temp(path_, temp_path_);
  try {
    write_all(fd_, head.data(), head.size(), path_);
  } catch (...) {
    discard(fd_, temp_path_);
    throw;
  }
}

NpyStreamWriter::~NpyStreamWriter() {
  if (fd_ >= 0) discard(fd_, temp_path_);
}

void NpyStreamWriter::flush_buffer() {
  write_all(fd_, buffer_.data(), buffer_.size(), path_);
  buffer_.clear();
}

void NpyStreamWriter::append(const void* rows, std::int64_t n) {
  if (fd_ < 0) throw Error::runtime(path_, "append after finish");
  if (n < 0) throw Error::runtime(path_, "negative row count");
  const char* bytes = static_cast<const char*>(rows);
  std::size_t remaining = static_cast<std::size_t>(n) * row_bytes_;
  while (remaining > 0) {
    if (buffer_.empty() && remaining >= kBufferBytes) {  // large blocks skip the copy
      write_all(fd_, bytes, remaining, path_);
      break;
    }
    const std::size_t take = std::min(remaining, kBufferBytes - buffer_.size());
    buffer_.insert(buffer_.end(), bytes, bytes + take);
    bytes += take;
    remaining -= take;
    if (buffer_.size() == kBufferBytes) flush_buffer();
  }
  rows_ += n;
}

void NpyStreamWriter::finish() {
  if (fd_ < 0) throw Error::runtime(path_, "finish called twice");
  try {
    flush_buffer();
    std::vector<std::int64_t> shape{rows_};
    shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
    const std::string head = npy_format::header(dtype_, shape, header_size_);
    if (head.size() != header_size_) throw Error::runtime(path_, "final header does not fit the reserved room");
    write_all(fd_, head.data(), head.size(), path_, 0);
    commit(fd_, temp_path_, path_);
  } catch (...) {
    discard(fd_, temp_path_);
    throw;
  }
}

}  // namespace trainer
