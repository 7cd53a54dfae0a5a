// Reading NumPy .npy files through a read-only memory map.
//
// The files are untrusted: the header is validated (magic, version, dict literal, keys, dtype,
// shape with overflow-checked products) against the file size before any data is touched, and
// every read stays inside the mapping. Faults are Error::data (exit 3) naming the file.
//
// Thread-safety: a NpyArray is immutable after open(); concurrent reads are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace trainer {

enum class DType { b1, u1, u2, u4, u8, i1, i2, i4, i8, f2, f4, f8 };

struct NpyHeader {
  int major = 1;
  int minor = 0;
  DType dtype = DType::f4;
  bool big_endian = false;       // only meaningful for multi-byte types
  bool fortran_order = false;
  std::vector<std::int64_t> shape;  // empty = 0-d scalar
  std::uint64_t header_len = 0;  // the HEADER_LEN field
  std::uint64_t data_offset = 0; // 10 or 12 + header_len
  std::uint64_t item_size = 0;
  std::uint64_t count = 0;       // number of elements (1 for 0-d)

  // NumPy's dtype.str of the array: "<f4", ">i8", "|u1", "|b1".
  std::string dtype_str() const;
  std::string version_str() const;  // "1.0"
};

// Parses and validates the header from the first `size` bytes of a file named `path`
// (`size` is the whole file size; the data extent is checked against it).
NpyHeader parse_npy_header(const std::uint8_t* bytes, std::size_t size, const std::string& path);

class NpyArray {
 public:
  // Maps `path` read-only. Throws Error::data (missing, unreadable, directory, malformed).
  static NpyArray open(const std::string& path);

  NpyArray() = default;
  NpyArray(NpyArray&&) noexcept;
  NpyArray& operator=(NpyArray&&) noexcept;
  NpyArray(const NpyArray&) = delete;
  NpyArray& operator=(const NpyArray&) = delete;
  ~NpyArray();

  const std::string& path() const { return path_; }
  const NpyHeader& header() const { return header_; }
  std::uint64_t file_size() const { return size_; }

  // Samples are along the first axis. rows() throws Error::data for a 0-d array.
  std::int64_t rows() const;
  // Values per sample: product of shape[1:], 1 for a 1-D array.
  std::int64_t row_width() const;

  // Element at logical C-order flat index i, converted to double (slow path: inspect, tests).
  double element(std::uint64_t i) const;

  // Gathers the given rows (any order, repeats allowed) converted to float32 into
  // out[rows.size() x row_width()], row-major: out[r*width + j] = (x[row][j] * scale - mean[j]) * inv_std[j]
  // (mean/inv_std may be empty: no standardisation). Every row index must be < rows().
  // With `to` (a permutation of 0..rows.size()-1), rows[i] goes to out row to[i] instead of i:
  // the file is read in the given order whatever order the output needs.
  // With `chunks`, each output row's columns then move into that order (column_chunks.hpp);
  // rows must then be at most kMaxChunkedWidth values. With channels_first = C > 0, a row holds
  // C planes of width / C values and is written channels last: value c * P + p goes to p * C + c
  // (mean and inv_std still index the file's order).
  void gather_f32(std::span<const std::int64_t> rows, float* out, float scale = 1.0f,
                  std::span<const float> mean = {}, std::span<const float> inv_std = {},
                  std::span<const std::int64_t> to = {}, std::span<const std::int32_t> chunks = {},
                  std::int64_t channels_first = 0) const;

  // For each of the given rows, where its values whose bytes are not all zero lie: first[i] is
  // the first one's index in the row and end[i] one past the last (both 0 for a row of zeros).
  // A cheap signature of a sample's shape (an image's content rows), read from both ends of the
  // row only. Fortran-ordered arrays, whose rows are spread over the file, report every row whole.
  void nonzero_extent(std::span<const std::int64_t> rows, std::int64_t* first, std::int64_t* end) const;

  // Gathers rows of a label file (row_width() == 1) as int32 class ids.
  // Non-integral or out-of-[0, classes) values throw Error::data naming the file and the row.
  void gather_labels(std::span<const std::int64_t> rows, std::int32_t* out, std::int64_t classes) const;

  // Tells the kernel the pages of rows [begin, end) will not be needed soon (MADV_DONTNEED on
  // the whole pages inside that range), so resident memory stays flat while a file streams.
  // With partial_pages, pages only partly inside the range, and those the kernel's fault-around
  // may have mapped with them (64 KiB aligned), are dropped too: always safe (the
  // map is private and read-only, a later read faults the page back in from the page cache),
  // it just costs that fault when a neighbouring row is read afterwards.
  // No-op for Fortran-ordered arrays (a row is spread over the whole file).
  void release_rows(std::int64_t begin, std::int64_t end, bool partial_pages = false) const;

  // Raw mapping (for tests and the fuzzer).
  const std::uint8_t* data() const { return base_; }

 private:
  // Throws Error::runtime naming the file unless every row index is in [0, rows()).
  void check_rows(std::span<const std::int64_t> rows) const;

  std::string path_;
  NpyHeader header_;
  const std::uint8_t* base_ = nullptr;
  std::uint64_t size_ = 0;
};

// Streamed statistics of a whole array (inspect): float64 accumulation.
// min, max and mean are over the non-NaN values (all 0 when there are none).
struct NpyStats {
  double min = 0, max = 0, mean = 0;
  std::uint64_t nan_count = 0;
  std::uint64_t finite_count = 0;  // values that are neither NaN nor infinite
};
NpyStats compute_stats(const NpyArray& array);

}  // namespace trainer
