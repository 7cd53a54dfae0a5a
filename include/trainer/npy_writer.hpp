// Writing NumPy .npy files (format version 1.0, little-endian, C order).
//
// Every file appears atomically: bytes go to "<path>.tmp", which is fsynced and then renamed
// over <path>, so a reader never sees a half-written array and a failed write leaves no file
// behind. Failures (folder missing or read-only, disk full, <path> is a directory) throw
// Error::runtime naming the path. The header is padded with spaces so the data starts at a
// multiple of 64 bytes, as NumPy itself does.
//
// Only the DType enum of npy.hpp is shared with the reader; this file does not depend on it.
// Thread-safety: a NpyStreamWriter is used from one thread; distinct writers are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trainer/npy.hpp"

namespace trainer {

namespace npy_format {
// NumPy's little-endian dtype.str for writing: "|u1", "<i2", "<f4", "|b1".
std::string descr(DType dtype);
// The DType whose descr() is `text`, into `out`; false (out untouched) for any other text.
bool dtype_of_descr(const std::string& text, DType& out);
// Bytes per element.
std::size_t item_size(DType dtype);
// NumPy's dtype name: "uint8", "int16", "float32", "bool".
const char* numpy_name(DType dtype);
// The full header (magic, version 1.0, HEADER_LEN, dict, space padding, '\n'); its size is a
// multiple of 64. min_size > 0 pads to at least that many bytes (for a header rewritten later).
std::string header(DType dtype, std::span<const std::int64_t> shape, std::size_t min_size = 0);
}  // namespace npy_format

// Writes a whole array. REQUIRES: data holds product(shape) elements of dtype in native
// (little-endian) byte order; shape empty = a 0-d scalar.
void write_npy(const std::string& path, DType dtype, std::span<const std::int64_t> shape,
               const void* data);

// Writes an array row by row when the number of rows is known only at the end: the header
// reserves room for the largest possible row count and finish() rewrites it with the real one.
// Without finish() (an exception unwinding, say) the destructor removes the temporary file and
// <path> is left untouched.
class NpyStreamWriter {
 public:
  // row_shape: the shape of one row (empty for a 1-D array of scalars).
  NpyStreamWriter(std::string path, DType dtype, std::vector<std::int64_t> row_shape);
  NpyStreamWriter(const NpyStreamWriter&) = delete;
  NpyStreamWriter& operator=(const NpyStreamWriter&) = delete;
  ~NpyStreamWriter();

  // Appends n rows. REQUIRES: rows holds n * row_elements() elements of dtype, native order.
  void append(const void* rows, std::int64_t n);
  // Writes the final header, fsyncs and renames the file into place. Call once.
  void finish();

  std::int64_t rows() const { return rows_; }
  std::int64_t row_elements() const { return row_elements_; }
  const std::string& path() const { return path_; }
  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& row_shape() const { return row_shape_; }

 private:
  void flush_buffer();

  std::string path_;
  std::string temp_path_;
  DType dtype_;
  std::vector<std::int64_t> row_shape_;
  std::int64_t row_elements_ = 1;
  std::size_t row_bytes_ = 0;
  std::size_t header_size_ = 0;
  std::int64_t rows_ = 0;
  int fd_ = -1;
  std::vector<char> buffer_;  // pending bytes not yet written; bounded, so memory stays O(1)
};

}  // namespace trainer
