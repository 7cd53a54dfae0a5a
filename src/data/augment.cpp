#include "trainer/augment.hpp"

#include <algorithm>
#include <cstring>

namespace trainer {
namespace {

std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

Augmentation::Draw Augmentation::draw(std::int64_t row, std::uint64_t epoch) const {
  const std::uint64_t r = mix(seed ^ mix(epoch ^ 0xA5A5A5A5A5A5A5A5ull) ^ mix(static_cast<std::uint64_t>(row) + 0x1234567ull));
  Draw d;
  d.flip = config.flip && (r & 1) != 0;
  const std::int64_t pad = config.crop_padding;
  if (pad > 0) {
    const auto span = static_cast<std::uint64_t>(2 * pad + 1);
    d.dy = static_cast<std::int64_t>((r >> 8) % span) - pad;
    d.dx = static_cast<std::int64_t>((r >> 32) % span) - pad;
  }
  return d;
}

void Augmentation::apply(float* data, std::int64_t row, std::uint64_t epoch) const {
  const Draw d = draw(row, epoch);
  const std::int64_t h = image.h, w = image.w, c = image.c;
  const auto pixel_bytes = static_cast<std::size_t>(c) * sizeof(float);
  auto pixel = [&](std::int64_t y, std::int64_t x) { return data + (y * w + x) * c; };
  auto fill_pixels = [&](float* p, std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) std::copy(fill.begin(), fill.end(), p + i * c);
  };
  if (d.flip) {
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w / 2; ++x) std::swap_ranges(pixel(y, x), pixel(y, x) + c, pixel(y, w - 1 - x));
  }
  if (d.dy == 0 && d.dx == 0) return;
  // Row y reads row y + dy: walk the rows so that a source row is read before it is overwritten.
  const std::int64_t first = d.dy > 0 ? 0 : h - 1, step = d.dy > 0 ? 1 : -1;
  // Within a row, columns [x0, x1) read columns shifted by dx; the rest is padding.
  const std::int64_t x0 = std::max<std::int64_t>(0, -d.dx), x1 = std::min(w, w - d.dx);
  for (std::int64_t y = first; y >= 0 && y < h; y += step) {
    const std::int64_t src = y + d.dy;
    if (src < 0 || src >= h || x1 <= x0) {
      fill_pixels(pixel(y, 0), w);
      continue;
    }
    std::memmove(pixel(y, x0), pixel(src, x0 + d.dx), static_cast<std::size_t>(x1 - x0) * pixel_bytes);
    fill_pixels(pixel(y, 0), x0);
    fill_pixels(pixel(y, x1), w - x1);
  }
}

}  // namespace trainer
