// The shape of one sample as the network reads it: an image of h x w x c values, stored channels
// last (NHWC, whatever the data file's layout: the gather transposes), or a flat vector of c values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trainer {

struct SampleShape {
  std::int64_t h = 1, w = 1, c = 0;
  bool image = false;
  std::int64_t size() const { return h * w * c; }
  static SampleShape flat(std::int64_t values) { return {1, 1, values, false}; }
  static SampleShape hwc(std::int64_t h, std::int64_t w, std::int64_t c) { return {h, w, c, true}; }
  // PyTorch's order of a sample's dimensions: [C, H, W] for an image, [C] for a vector.
  std::vector<std::int64_t> chw() const {
    return image ? std::vector<std::int64_t>{c, h, w} : std::vector<std::int64_t>{c};
  }
  // "32x28x28" (channels x height x width, as PyTorch prints it) or "128".
  std::string text() const {
    return image ? std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w) : std::to_string(c);
  }
  bool operator==(const SampleShape&) const = default;
};

}  // namespace trainer
