// NpyArray: a read-only memory map of a validated .npy file and the typed readers over it.
//
// The header is parsed and its data extent checked against the file size before any element is
// read, so every access below stays inside [base_, base_ + size_).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>

#include "mapped_read_guard.hpp"
#include "npy_convert.hpp"
#include "trainer/column_chunks.hpp"
#include "trainer/error.hpp"
#include "trainer/npy.hpp"

namespace trainer {
namespace {

using npy_detail::dispatch;
using npy_detail::load_as;

bool needs_swap(const NpyHeader& h) {
  return h.item_size > 1 && h.big_endian != (std::endian::native == std::endian::big);
}

// Column-major strides (in elements) of every axis: element (i0, i1, ...) of a Fortran-ordered
// array is stored at sum_k i_k * strides[k].
std::array<std::uint64_t, 32> fortran_strides(const std::vector<std::int64_t>& shape) {
  std::array<std::uint64_t, 32> strides{};
  std::uint64_t s = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    strides[k] = s;
    s *= static_cast<std::uint64_t>(shape[k] == 0 ? 1 : shape[k]);
  }
  return strides;
}

// Converts one row of a Fortran-ordered array: element j (C order over the trailing axes) of
// row r is at r + sum_{k>=1} idx_k * strides[k]; an odometer walks idx without divisions.
template <typename T, typename Sink>
void gather_fortran_row(const std::uint8_t* data, std::uint64_t item, bool swap,
                        const std::vector<std::int64_t>& shape, const std::array<std::uint64_t, 32>& strides,
                        std::int64_t row, std::int64_t width, Sink&& put) {
  std::array<std::int64_t, 32> idx{};
  const std::size_t nd = shape.size();
  std::uint64_t pos = static_cast<std::uint64_t>(row);
  for (std::int64_t j = 0; j < width; ++j) {
    put(j, load_as<T, float>(data + pos * item, swap));
    for (std::size_t k = nd - 1; k >= 1; --k) {
      if (++idx[k] < shape[k]) {
        pos += strides[k];
        break;
      }
      pos -= strides[k] * static_cast<std::uint64_t>(idx[k] - 1);
      idx[k] = 0;
    }
  }
}

// Whether each row is one contiguous run of the file: C order, or a 1-D array in either order
// (a Fortran row of a wider array is spread over the whole file).
bool rows_contiguous(const NpyHeader& h) { return !h.fortran_order || h.shape.size() <= 1; }

// What gather_f32 does to each value after converting it: (v * scale - mean[j]) * inv_std[j],
// or v * scale without statistics. Applied to each row as soon as it is converted, while it is
// in L1, rather than in a second pass over the whole (cache-cold) batch.
// With chunks, the row's columns then move 4 at a time (InputTransform::chunks), through a copy
// on the stack: 16-byte moves, a fraction of the conversion's cost.
struct RowTransform {
  float scale = 1.0f;
  std::span<const float> mean, inv_std;
  std::span<const std::int32_t> chunks;
  void apply(float* row, std::size_t w) const {
    scale_row(row, w);
    move_chunks(row, w);
  }
  void scale_row(float* row, std::size_t w) const {
    if (scale == 1.0f && mean.empty()) return;
    if (mean.empty()) {
      for (std::size_t j = 0; j < w; ++j) row[j] *= scale;
    } else {
      for (std::size_t j = 0; j < w; ++j) row[j] = (row[j] * scale - mean[j]) * inv_std[j];
    }
  }
  void move_chunks(float* row, std::size_t w) const {
    if (chunks.empty()) return;
    float copy[kMaxChunkedWidth];
    std::memcpy(copy, row, w * sizeof(float));
    trainer::move_chunks(row, copy, chunks, ChunksTo::run_order);
  }
};

// Rows of images stored channels first, written channels last with the transform folded in:
// value j = c * P + p of the file goes to p * C + c. Reads each row once in the file's order.
template <typename T>
void gather_rows_channels_first(const NpyHeader& h, const std::uint8_t* data, std::span<const std::int64_t> rows,
                                std::span<const std::int64_t> to, std::int64_t width, float* out, const RowTransform& t,
                                std::int64_t channels) {
  const bool swap = needs_swap(h);
  const std::uint64_t item = h.item_size;
  const std::int64_t pixels = width / channels;
  const auto strides = fortran_strides(h.shape);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    float* dst = out + (to.empty() ? i : static_cast<std::size_t>(to[i])) * static_cast<std::size_t>(width);
    auto put = [&](std::int64_t j, float v) {
      v = t.mean.empty() ? v * t.scale : (v * t.scale - t.mean[static_cast<std::size_t>(j)]) * t.inv_std[static_cast<std::size_t>(j)];
      dst[(j % pixels) * channels + j / pixels] = v;
    };
    if (rows_contiguous(h)) {
      const std::uint8_t* src = data + static_cast<std::uint64_t>(rows[i]) * static_cast<std::uint64_t>(width) * item;
      for (std::int64_t j = 0; j < width; ++j) put(j, load_as<T, float>(src + static_cast<std::uint64_t>(j) * item, swap));
    } else {
      gather_fortran_row<T>(data, item, swap, h.shape, strides, rows[i], width, put);
    }
  }
}

template <typename T>
void gather_rows(const NpyHeader& h, const std::uint8_t* data, std::span<const std::int64_t> rows,
                 std::span<const std::int64_t> to, std::int64_t width, float* out, const RowTransform& t) {
  const bool swap = needs_swap(h);
  const std::uint64_t item = h.item_size;
  const auto w = static_cast<std::size_t>(width);
  if (w == 0) return;  // rows of no values (shape [K, 0]): nothing to read, and no data pointer
  if (rows_contiguous(h)) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::uint8_t* src = data + static_cast<std::uint64_t>(rows[i]) * w * item;
      float* dst = out + (to.empty() ? i : static_cast<std::size_t>(to[i])) * w;
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        // Bytes (images): one loop the compiler vectorises, with the scaling folded in.
        if (t.mean.empty()) {
          for (std::size_t j = 0; j < w; ++j) dst[j] = static_cast<float>(src[j]) * t.scale;
          t.move_chunks(dst, w);
          continue;
        }
        for (std::size_t j = 0; j < w; ++j) dst[j] = static_cast<float>(src[j]);
      } else if constexpr (std::is_same_v<T, float>) {
        if (swap)
          for (std::size_t j = 0; j < w; ++j) dst[j] = load_as<T, float>(src + j * item, swap);
        else
          std::memcpy(dst, src, w * sizeof(float));
      } else {
        for (std::size_t j = 0; j < w; ++j) dst[j] = load_as<T, float>(src + j * item, swap);
      }
      t.apply(dst, w);
    }
    return;
  }
  const auto strides = fortran_strides(h.shape);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    float* dst = out + (to.empty() ? i : static_cast<std::size_t>(to[i])) * w;
    gather_fortran_row<T>(data, item, swap, h.shape, strides, rows[i], width, [dst](std::int64_t j, float v) { dst[j] = v; });
    t.apply(dst, w);
  }
}

std::size_t page_size() {
  static const auto size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

NpyArray NpyArray::open(const std::string& path) {
  // O_NONBLOCK: a FIFO named as a data file is refused below instead of blocking the open.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error::data(path, std::string("cannot open: ") + std::strerror(errno), "a readable .npy file");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw Error::data(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error::data(path, S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file",
                      "a .npy file");
  }
  NpyArray array;
  array.path_ = path;
  array.size_ = static_cast<std::uint64_t>(st.st_size);
  if (array.size_ > 0) {
    void* p = ::mmap(nullptr, array.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error::data(path, std::string("cannot memory-map: ") + std::strerror(err));
    }
    array.base_ = static_cast<const std::uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file open
  array.header_ = parse_npy_header(array.base_, array.size_, path);  // ~NpyArray unmaps on throw
  return array;
}

NpyArray::NpyArray(NpyArray&& other) noexcept
    : path_(std::move(other.path_)),
      header_(std::move(other.header_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

NpyArray& NpyArray::operator=(NpyArray&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(const_cast<std::uint8_t*>(base_), size_);
    path_ = std::move(other.path_);
    header_ = std::move(other.header_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

NpyArray::~NpyArray() {
  if (base_ != nullptr) ::munmap(const_cast<std::uint8_t*>(base_), size_);
}

std::int64_t NpyArray::rows() const {
  if (header_.shape.empty())
    throw Error::data(path_, "0-d array (shape ()) where samples are expected", "an array of shape (N, ...)");
  return header_.shape[0];
}

std::int64_t NpyArray::row_width() const {
  std::int64_t width = 1;
  for (std::size_t k = 1; k < header_.shape.size(); ++k) width *= header_.shape[k];
  return width;
}

double NpyArray::element(std::uint64_t i) const {
  if (i >= header_.count)
    throw Error::runtime(path_, "element index " + std::to_string(i) + " out of range",
                         "below " + std::to_string(header_.count));
  std::uint64_t pos = i;
  if (!rows_contiguous(header_)) {
    const auto strides = fortran_strides(header_.shape);
    pos = 0;
    for (std::size_t k = header_.shape.size(); k-- > 0;) {
      const auto dim = static_cast<std::uint64_t>(header_.shape[k]);
      pos += (i % dim) * strides[k];
      i /= dim;
    }
  }
  const std::uint8_t* p = base_ + header_.data_offset + pos * header_.item_size;
  const bool swap = needs_swap(header_);
  return dispatch(header_.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return load_as<T, double>(p, swap);
  });
}

void NpyArray::check_rows(std::span<const std::int64_t> rows) const {
  const std::int64_t n = this->rows();
  for (const std::int64_t r : rows)
    if (r < 0 || r >= n)
      throw Error::runtime(path_, "row " + std::to_string(r) + " out of range", "rows below " + std::to_string(n));
}

void NpyArray::gather_f32(std::span<const std::int64_t> rows, float* out, float scale,
                          std::span<const float> mean, std::span<const float> inv_std,
                          std::span<const std::int64_t> to, std::span<const std::int32_t> chunks,
                          std::int64_t channels_first) const {
  const std::int64_t width = row_width();
  if (channels_first < 0 || (channels_first > 0 && (width % channels_first != 0 || !chunks.empty())))
    throw Error::runtime(path_, "rows of " + std::to_string(width) + " values as " + std::to_string(channels_first) +
                                    " channel planes", "a channel count that divides the row, without a column order");
  if (!chunks.empty() &&
      (width > kMaxChunkedWidth || static_cast<std::int64_t>(chunks.size()) != width / kChunkColumns ||
       std::any_of(chunks.begin(), chunks.end(), [&](std::int32_t c) { return c < 0 || c >= width / kChunkColumns; })))
    throw Error::runtime(path_, "a column order of " + std::to_string(chunks.size()) + " chunks",
                         "a permutation of " + std::to_string(width / kChunkColumns) + " chunks, rows of at most " +
                             std::to_string(kMaxChunkedWidth) + " values");
  if (mean.size() != inv_std.size() || (!mean.empty() && mean.size() != static_cast<std::size_t>(width)))
    throw Error::runtime(path_, "standardisation statistics have " + std::to_string(mean.size()) +
                                    " features", std::to_string(width) + " features");
  check_rows(rows);
  const std::uint8_t* data = base_ + header_.data_offset;
  data_detail::guarded_read(path_, [&] {
    dispatch(header_.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (channels_first > 0 && width > 0)
        gather_rows_channels_first<T>(header_, data, rows, to, width, out, {scale, mean, inv_std, {}}, channels_first);
      else
        gather_rows<T>(header_, data, rows, to, width, out, {scale, mean, inv_std, chunks});
    });
  });
}

namespace {

// Index of the first byte of p[0, len) that is not zero (len if none), a word at a time.
std::uint64_t first_nonzero_byte(const std::uint8_t* p, std::uint64_t len) {
  std::uint64_t i = 0;
  for (std::uint64_t word; i + sizeof word <= len; i += sizeof word) {
    std::memcpy(&word, p + i, sizeof word);
    if (word != 0) break;
  }
  while (i < len && p[i] == 0) ++i;
  return i;
}

// One past the last byte of p[0, len) that is not zero (0 if none).
std::uint64_t nonzero_bytes_end(const std::uint8_t* p, std::uint64_t len) {
  std::uint64_t e = len;
  for (std::uint64_t word; e >= sizeof word; e -= sizeof word) {
    std::memcpy(&word, p + e - sizeof word, sizeof word);
    if (word != 0) break;
  }
  while (e > 0 && p[e - 1] == 0) --e;
  return e;
}

}  // namespace

void NpyArray::nonzero_extent(std::span<const std::int64_t> rows, std::int64_t* first, std::int64_t* end) const {
  const std::int64_t width = row_width();
  check_rows(rows);
  if (!rows_contiguous(header_)) {
    std::fill(first, first + rows.size(), 0);
    std::fill(end, end + rows.size(), width);
    return;
  }
  const std::uint64_t item = header_.item_size;
  const std::uint64_t row_bytes = static_cast<std::uint64_t>(width) * item;
  const std::uint8_t* data = base_ + header_.data_offset;
  data_detail::guarded_read(path_, [&] {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::uint8_t* row = data + static_cast<std::uint64_t>(rows[i]) * row_bytes;
      const std::uint64_t from = first_nonzero_byte(row, row_bytes);
      if (from == row_bytes) {
        first[i] = end[i] = 0;
        continue;
      }
      first[i] = static_cast<std::int64_t>(from / item);
      end[i] = static_cast<std::int64_t>((nonzero_bytes_end(row + from, row_bytes - from) + from + item - 1) / item);
    }
  });
}

void NpyArray::gather_labels(std::span<const std::int64_t> rows, std::int32_t* out, std::int64_t classes) const {
  if (row_width() != 1)
    throw Error::data(path_, "labels must hold one value per row, got " + std::to_string(row_width()),
                      "shape (N,) or (N, 1)");
  const std::uint8_t* data = base_ + header_.data_offset;
  const bool swap = needs_swap(header_);
  const std::uint64_t item = header_.item_size;
  check_rows(rows);
  // The first bad label is found inside the guarded read; its Error is built outside it (no
  // allocation may be in flight when a SIGBUS unwinds the read).
  std::size_t bad = rows.size();
  double bad_value = 0;
  data_detail::guarded_read(path_, [&] {
    dispatch(header_.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const double v = load_as<T, double>(data + static_cast<std::uint64_t>(rows[i]) * item, swap);
        if (!(v >= 0.0 && v < static_cast<double>(classes)) || v != std::floor(v)) {
          bad = i;
          bad_value = v;
          return;
        }
        out[i] = static_cast<std::int32_t>(v);
      }
    });
  });
  if (bad < rows.size())
    throw Error::data(path_, "row " + std::to_string(rows[bad]) + ": label " + std::to_string(bad_value) +
                                 " is not a class id", "integers in [0, " + std::to_string(classes) + ")");
}

void NpyArray::release_rows(std::int64_t begin, std::int64_t end, bool partial_pages) const {
  if (base_ == nullptr || header_.shape.empty() || !rows_contiguous(header_)) return;
  if (begin < 0) begin = 0;
  if (end > header_.shape[0]) end = header_.shape[0];
  if (begin >= end) return;
  const std::uint64_t row_bytes = static_cast<std::uint64_t>(row_width()) * header_.item_size;
  const std::uint64_t first = header_.data_offset + static_cast<std::uint64_t>(begin) * row_bytes;
  const std::uint64_t last = header_.data_offset + static_cast<std::uint64_t>(end) * row_bytes;
  // Whole pages only by default: a partly consumed page may still hold rows the reader needs.
  // With partial_pages, round out to the kernel's fault-around window (64 KiB of virtual
  // address space by default): a fault while reading these rows may have mapped that many
  // neighbouring cached pages, which would stay resident if their rows were already consumed.
  constexpr std::uint64_t kFaultAround = 64 * 1024;
  const auto base = reinterpret_cast<std::uintptr_t>(base_);
  const std::uint64_t page = partial_pages ? std::max<std::uint64_t>(page_size(), kFaultAround) : page_size();
  const std::uint64_t mapped = (size_ + page_size() - 1) / page_size() * page_size();  // never past the map
  const std::uint64_t from_addr = partial_pages ? (base + first) / page * page : (base + first + page - 1) / page * page;
  const std::uint64_t to_addr = partial_pages ? (base + last + page - 1) / page * page : (base + last) / page * page;
  const std::uint64_t from = from_addr < base ? 0 : from_addr - base;
  const std::uint64_t to = std::min<std::uint64_t>(to_addr - base, mapped);
  if (from >= to) return;
  ::madvise(const_cast<std::uint8_t*>(base_) + from, to - from, MADV_DONTNEED);
}

}  // namespace trainer
