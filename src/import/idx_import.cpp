// IDX (the MNIST family's format) → x.npy / y.npy in one streaming pass.
//
// An IDX file is: two zero bytes, a dtype code (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
// 0x0D f32, 0x0E f64), the number of dimensions, each dimension as a big-endian uint32, then
// the items in C order, big-endian. The dtype and shape are kept (images stay [N, rows, cols]);
// multi-byte values are swapped to little-endian.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gzip_reader.hpp"
#include "import_detail.hpp"
#include "trainer/error.hpp"
#include "trainer/npy_writer.hpp"

namespace trainer::import_detail {
namespace {

constexpr const char* kValidMagic = "an IDX file: 0x00000803 (ubyte images) or 0x00000801 (ubyte labels), gzip'd or not";

bool idx_dtype(std::uint8_t code, DType& dtype) {
  switch (code) {
    case 0x08: dtype = DType::u1; return true;
    case 0x09: dtype = DType::i1; return true;
    case 0x0B: dtype = DType::i2; return true;
    case 0x0C: dtype = DType::i4; return true;
    case 0x0D: dtype = DType::f4; return true;
    case 0x0E: dtype = DType::f8; return true;
    default: return false;
  }
}

std::string hex_magic(const unsigned char* m) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%02x%02x%02x%02x", m[0], m[1], m[2], m[3]);
  return text;
}

struct IdxHeader {
  DType dtype = DType::u1;
  std::vector<std::int64_t> dims;
  std::size_t item_bytes = 1;
  std::size_t row_bytes = 1;  // bytes of one item (product of dims[1:]) * item size
};

IdxHeader read_header(GzipReader& reader) {
  const std::string& path = reader.path();
  unsigned char magic[4] = {};
  const std::size_t got = reader.read(magic, 4);
  if (got < 4) throw Error::data(path, "too short for an IDX header (" + std::to_string(got) + " bytes)", kValidMagic);
  IdxHeader header;
  if (magic[0] != 0 || magic[1] != 0 || !idx_dtype(magic[2], header.dtype) || magic[3] == 0) {
    throw Error::data(path, "bad IDX magic " + hex_magic(magic), kValidMagic);
  }
  // NumPy (and NpyArray) stop at 32 dimensions: more would write a .npy nothing can read.
  if (magic[3] > 32) {
    throw Error::data(path, std::to_string(magic[3]) + " dimensions, more than a .npy file can hold",
                      "at most 32 dimensions");
  }
  header.item_bytes = npy_format::item_size(header.dtype);
  std::uint64_t row = header.item_bytes;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    if (reader.read(b, 4) < 4) throw Error::data(path, "truncated IDX header: dimension " + std::to_string(d) + " missing");
    const std::uint64_t dim = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) | (std::uint64_t{b[2]} << 8) | b[3];
    header.dims.push_back(static_cast<std::int64_t>(dim));
    if (d > 0) {
      // An item of zero size holds no data, and a loop over up to 2^32 empty items would spin
      // for minutes on a 12-byte file.
      if (dim == 0) {
        throw Error::data(path, "dimension " + std::to_string(d) + " is 0: the items are empty",
                          "an IDX file of images or labels");
      }
      row *= dim;  // at most 2^32 per factor; refuse rows over 1 GiB before it can overflow
      if (row > (std::uint64_t{1} << 30)) throw Error::data(path, "IDX item larger than 1 GiB", "an IDX file of images or labels");
    }
  }
  header.row_bytes = static_cast<std::size_t>(row);
  return header;
}

// Swaps each item of a row from big-endian to little-endian in place.
void to_little_endian(std::vector<unsigned char>& row, std::size_t item) {
  if (item == 1) return;
  for (std::size_t i = 0; i + item <= row.size(); i += item) std::reverse(row.begin() + static_cast<std::ptrdiff_t>(i),
                                                                          row.begin() + static_cast<std::ptrdiff_t>(i + item));
}

// Reads item `index` into row (resized to header.row_bytes). The buffer grows only as data
// arrives (doubling from 1 MiB): a header may declare items of up to 1 GiB, and a short or
// lying file must not cost that much memory before it is found out.
void read_row(GzipReader& reader, std::vector<unsigned char>& row, const IdxHeader& header, std::int64_t index) {
  constexpr std::size_t kFirstChunk = std::size_t{1} << 20;
  std::size_t done = 0;
  while (done < header.row_bytes) {
    const std::size_t want = std::min(header.row_bytes - done, std::max(done, kFirstChunk));
    if (row.size() < done + want) row.resize(done + want);
    if (reader.read(row.data() + done, want) != want) {
      throw Error::data(reader.path(), "truncated: the header declares " + std::to_string(header.dims[0]) +
                        " items but the data ends in item " + std::to_string(index));
    }
    done += want;
  }
  to_little_endian(row, header.item_bytes);
}

void expect_end(GzipReader& reader, const IdxHeader& header) {
  unsigned char extra = 0;
  if (reader.read(&extra, 1) != 0) {
    throw Error::data(reader.path(), "extra bytes after the " + std::to_string(header.dims[0]) +
                      " items the header declares", "an IDX file whose size matches its header");
  }
}

}  // namespace

bool has_idx_magic(const std::string& path) {
  GzipReader reader(path);
  unsigned char magic[4] = {};
  if (reader.read(magic, 4) < 4) return false;
  DType dtype;
  return magic[0] == 0 && magic[1] == 0 && idx_dtype(magic[2], dtype) && magic[3] != 0;
}

ImportSummary import_idx(const ImportOptions& options) {
  GzipReader images(options.input);
  const IdxHeader x_header = read_header(images);
  const std::int64_t rows = x_header.dims[0];
  std::unique_ptr<GzipReader> labels;
  IdxHeader y_header;
  if (!options.labels.empty()) {
    labels = std::make_unique<GzipReader>(options.labels);
    y_header = read_header(*labels);
    if (y_header.dims[0] != rows) {
      throw Error::data(options.labels, "has " + std::to_string(y_header.dims[0]) + " labels but " + options.input +
                        " has " + std::to_string(rows) + " items", "one label per item");
    }
  }
  ImportSummary summary;
  summary.format = ImportFormat::idx;
  summary.rows = rows;
  summary.features = static_cast<std::int64_t>(x_header.row_bytes / x_header.item_bytes);
  const std::vector<std::int64_t> x_row_shape(x_header.dims.begin() + 1, x_header.dims.end());
  std::vector<std::int64_t> y_row_shape;
  if (labels) y_row_shape.assign(y_header.dims.begin() + 1, y_header.dims.end());
  OutputSet outputs(options, rows, x_header.dtype, x_row_shape, labels != nullptr, y_header.dtype, y_row_shape);
  std::vector<unsigned char> x_row, y_row;  // sized by read_row as the data arrives
  for (std::int64_t r = 0; r < rows; ++r) {
    read_row(images, x_row, x_header, r);
    if (labels) read_row(*labels, y_row, y_header, r);
    outputs.append(r, x_row.data(), y_row.data());
  }
  expect_end(images, x_header);
  if (labels) expect_end(*labels, y_header);
  outputs.finish(summary);
  return summary;
}

}  // namespace trainer::import_detail
