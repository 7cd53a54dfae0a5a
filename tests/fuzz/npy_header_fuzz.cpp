// Fuzzes the .npy reader: the header parser on raw bytes, then the same bytes as a file through
// NpyArray::open and every reader over it (element, gather_f32 with and without
// standardisation, gather_labels, compute_stats, release_rows). Beyond "no crash, no read
// outside the map", gather_f32 must agree with element() on every value (the fast row paths,
// Fortran order and byte swapping against the slow, obvious one).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz_support.hpp"
#include "trainer/error.hpp"
#include "trainer/npy.hpp"

namespace {

using trainer::DType;

// float(double(x)) may round twice for 64-bit integers; compare those types only by NaN-ness.
bool exact_in_double(DType d) { return d != DType::u8 && d != DType::i8; }

void check_reader(const std::string& path) {
  const trainer::NpyArray array = trainer::NpyArray::open(path);
  const trainer::NpyHeader& h = array.header();
  for (std::uint64_t i = 0; i < h.count; ++i) (void)array.element(i);
  (void)trainer::compute_stats(array);

  const std::int64_t rows = array.rows();  // throws for a 0-d array
  const std::int64_t width = array.row_width();
  if (rows < 0 || width < 0) __builtin_trap();
  // rows * width == count unless one of them is 0, and count is bounded by the file size.
  const std::uint64_t values = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(width);
  if (rows != 0 && width != 0 && values != h.count) __builtin_trap();

  std::vector<std::int64_t> order;
  if (width != 0) {
    for (std::int64_t r = rows; r-- > 0;) order.push_back(r);  // reversed: not the file order
  } else {
    order.push_back(0);  // a zero-width row: nothing to copy, but the index must still be valid
    if (rows == 0) order.clear();
  }
  std::vector<float> out(values + 1);
  array.gather_f32(order, out.data());
  for (std::size_t i = 0; i < order.size() && width != 0; ++i) {
    for (std::int64_t j = 0; j < width; ++j) {
      const auto flat = static_cast<std::uint64_t>(order[i]) * static_cast<std::uint64_t>(width) +
                        static_cast<std::uint64_t>(j);
      const double e = array.element(flat);
      const float g = out[i * static_cast<std::size_t>(width) + static_cast<std::size_t>(j)];
      if (std::isnan(e) != std::isnan(g)) __builtin_trap();
      if (!std::isnan(e) && exact_in_double(h.dtype) && static_cast<float>(e) != g) __builtin_trap();
    }
  }
  const std::vector<float> first = out;
  if (width > 0 && width <= (1 << 16)) {
    const std::vector<float> mean(static_cast<std::size_t>(width), 0.5f);
    const std::vector<float> inv_std(static_cast<std::size_t>(width), 2.0f);
    array.gather_f32(order, out.data(), 0.25f, mean, inv_std);
    array.gather_f32(order, out.data(), 3.0f);
  }
  array.release_rows(0, rows);
  array.release_rows(0, rows, true);
  std::vector<float> again(values + 1);
  array.gather_f32(order, again.data());  // pages dropped above fault back in unchanged
  for (std::size_t i = 0; i < order.size() * static_cast<std::size_t>(width); ++i) {
    if (std::isnan(again[i]) != std::isnan(first[i])) __builtin_trap();
    if (!std::isnan(again[i]) && again[i] != first[i]) __builtin_trap();
  }
  if (width == 1 && rows > 0) {
    std::vector<std::int32_t> labels(static_cast<std::size_t>(rows));
    array.gather_labels(order, labels.data(), 10);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trainer_fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > trainer_fuzz::kMaxInput) return -1;
  // The parser on the bytes alone: an exact-size heap copy, so ASan sees any read past the end.
  {
    std::vector<std::uint8_t> copy(data, data + size);
    try {
      const trainer::NpyHeader h = trainer::parse_npy_header(copy.data(), copy.size(), "fuzz.npy");
      if (h.data_offset > size || h.count * h.item_size > size - h.data_offset) __builtin_trap();
    } catch (const trainer::Error&) {
    }
  }
  try {
    check_reader(trainer_fuzz::write_file("input.npy", data, size));
  } catch (const trainer::Error&) {
  }
  return 0;
}
