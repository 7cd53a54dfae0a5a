// The 2x2 max pool that runs inside the conv2d before it (pool2d.cpp's ChunkFusion), for single
// precision with AVX-512: the most common pooling layer, and one whose general per-window code
// spent 12% of the Fashion-MNIST model's training step on a few compares per value.
//
// Same results as the general code: per output value the first largest of the window's four
// (scanning the top row, then the bottom; a NaN in the first position stays, later NaNs never
// win), its position 0-3 in a byte with kPoolAboveZero set where the value is above zero; backward
// puts the gradient at that position and zero at the other three, or zero everywhere when the
// value was not above zero and the gradient passes a relu.
//
// Compiled for AVX-512 in every x86-64 build and chosen at run time, as direct_conv.hpp.
#pragma once

#include <cstdint>

namespace trainer::model {

using Index = std::int64_t;

// Whether the kernels run here (AVX-512).
bool max_pool_2x2_available();

// in: [samples, h, w, c] with even h and w; out and from: [samples, h/2, w/2, c].
void max_pool_2x2_forward(const float* in, Index samples, Index h, Index w, Index c, float* out, std::uint8_t* from);

// g: the output's gradient, [samples, h/2, w/2, c]; from as forward wrote it; dx: [samples, h, w, c],
// every value written. through_relu: drop the gradient of values not above zero.
void max_pool_2x2_spread(const float* g, const std::uint8_t* from, Index samples, Index h, Index w, Index c,
                         bool through_relu, float* dx);

// A fused max pool's byte per output value (here and in pool2d.cpp's general code): the window
// position, and whether the value is above zero.
inline constexpr std::uint8_t kPoolPositionBits = 0x7F, kPoolAboveZero = 0x80;

}  // namespace trainer::model
