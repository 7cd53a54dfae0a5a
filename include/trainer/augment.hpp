// Random changes of training images (data.augment): a horizontal flip and a random crop after
// zero padding, applied on the prefetcher's thread to each gathered image (NHWC floats) in place.
// Each image's draw is a pure function of (seed, epoch, file row): reproducible from the seed,
// the same whatever the batch, micro-batch, thread count or grouping of a run, and it needs no
// RNG state to checkpoint. Allocates nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/sample_shape.hpp"

namespace trainer {

struct Augmentation {
  AugmentConfig config;
  SampleShape image;         // the network's input: h x w x c, channels last
  std::vector<float> fill;   // per channel: what a zero pixel of the file is after x_scale and
                             // standardisation (padding is added to the file's image)
  std::uint64_t seed = 0;

  bool enabled() const { return config.enabled() && image.image; }
  // The draw of one image: flip, and the crop's offset (dy, dx) in [-pad, pad] from the centre.
  struct Draw {
    bool flip = false;
    std::int64_t dy = 0, dx = 0;
  };
  Draw draw(std::int64_t row, std::uint64_t epoch) const;
  // out[y][x] = in[y + dy][x' + dx] with x' the flipped column, fill outside the image.
  void apply(float* image_data, std::int64_t row, std::uint64_t epoch) const;
};

}  // namespace trainer
