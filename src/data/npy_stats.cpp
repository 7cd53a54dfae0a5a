// Streamed statistics of a whole .npy array for `trainer inspect`.
//
// The elements are visited in storage order (min, max, mean and the NaN count do not depend on
// the logical order), so the file is read once, sequentially.
#include <bit>
#include <cmath>
#include <limits>

#include "npy_convert.hpp"
#include "trainer/npy.hpp"

namespace trainer {

NpyStats compute_stats(const NpyArray& array) {
  const NpyHeader& h = array.header();
  const std::uint8_t* data = array.data() + h.data_offset;
  const bool swap = h.item_size > 1 && h.big_endian != (std::endian::native == std::endian::big);
  NpyStats stats;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  std::uint64_t counted = 0;  // non-NaN values: the mean and the extremes are over them
  npy_detail::dispatch(h.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (std::uint64_t i = 0; i < h.count; ++i) {
      const double v = npy_detail::load_as<T, double>(data + i * h.item_size, swap);
      if (std::isnan(v)) {
        ++stats.nan_count;
        continue;
      }
      if (std::isfinite(v)) ++stats.finite_count;
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      sum += v;
      ++counted;
    }
  });
  if (counted > 0) {
    stats.min = lo;
    stats.max = hi;
    stats.mean = sum / static_cast<double>(counted);
  }
  return stats;
}

}  // namespace trainer
