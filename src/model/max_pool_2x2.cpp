#include "max_pool_2x2.hpp"

#include <cstring>

#include "avx512.hpp"

namespace trainer::model {

#ifdef TRAINER_AVX512_KERNELS
namespace {

// The bytes of 16 lanes of from, zero beyond count (a 16-byte load could run past the buffer).
TRAINER_AVX512 __m512i load_codes(const std::uint8_t* from, Index count) {
  alignas(16) std::uint8_t bytes[16] = {};
  if (count >= 16)
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(from)));
  std::memcpy(bytes, from, static_cast<std::size_t>(count));
  return _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(bytes)));
}

// One output pixel's channels: x at the window's first pixel, right/below the offsets of the
// other taps.
TRAINER_AVX512 void max_pixel(const float* x, Index right, Index below, Index c, float* out, std::uint8_t* from) {
  const __m512 zero = _mm512_setzero_ps();
  for (Index c0 = 0; c0 < c; c0 += 16) {
    const __mmask16 m = lanes(c - c0);
    const float* p = x + c0;
    const __m512 v0 = _mm512_maskz_loadu_ps(m, p), v1 = _mm512_maskz_loadu_ps(m, p + right);
    const __m512 v2 = _mm512_maskz_loadu_ps(m, p + below), v3 = _mm512_maskz_loadu_ps(m, p + below + right);
    // Ordered, quiet "greater than": false against a NaN, so a NaN kept first stays, as `>` does.
    const __mmask16 k1 = _mm512_cmp_ps_mask(v1, v0, _CMP_GT_OQ);
    const __m512 m1 = _mm512_mask_blend_ps(k1, v0, v1);
    const __mmask16 k2 = _mm512_cmp_ps_mask(v2, m1, _CMP_GT_OQ);
    const __m512 m2 = _mm512_mask_blend_ps(k2, m1, v2);
    const __mmask16 k3 = _mm512_cmp_ps_mask(v3, m2, _CMP_GT_OQ);
    const __m512 best = _mm512_mask_blend_ps(k3, m2, v3);
    __m512i at = _mm512_maskz_mov_epi32(k1, _mm512_set1_epi32(1));
    at = _mm512_mask_mov_epi32(at, k2, _mm512_set1_epi32(2));
    at = _mm512_mask_mov_epi32(at, k3, _mm512_set1_epi32(3));
    const __mmask16 above = _mm512_cmp_ps_mask(best, zero, _CMP_GT_OQ);
    at = _mm512_mask_or_epi32(at, above, at, _mm512_set1_epi32(kPoolAboveZero));
    _mm512_mask_storeu_ps(out + c0, m, best);
    _mm512_mask_cvtepi32_storeu_epi8(from + c0, m, at);
  }
}

TRAINER_AVX512 void spread_pixel(const float* g, const std::uint8_t* from, Index right, Index below, Index c,
                                 bool through_relu, float* dx) {
  const __m512i position_bits = _mm512_set1_epi32(kPoolPositionBits), above_bit = _mm512_set1_epi32(kPoolAboveZero);
  for (Index c0 = 0; c0 < c; c0 += 16) {
    const __mmask16 m = lanes(c - c0);
    const __m512i code = load_codes(from + c0, c - c0);
    const __m512i at = _mm512_and_epi32(code, position_bits);
    const __mmask16 pass = through_relu ? _mm512_test_epi32_mask(code, above_bit) : m;
    const __m512 gain = _mm512_maskz_loadu_ps(m & pass, g + c0);
    float* d = dx + c0;
    _mm512_mask_storeu_ps(d, m, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_setzero_si512()), gain));
    _mm512_mask_storeu_ps(d + right, m, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(1)), gain));
    _mm512_mask_storeu_ps(d + below, m, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(2)), gain));
    _mm512_mask_storeu_ps(d + below + right, m,
                          _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(3)), gain));
  }
}

}  // namespace

bool max_pool_2x2_available() { return avx512_available(); }

void max_pool_2x2_forward(const float* in, Index samples, Index h, Index w, Index c, float* out, std::uint8_t* from) {
  const Index oh = h / 2, ow = w / 2;
  for (Index s = 0; s < samples; ++s)
    for (Index i = 0; i < oh; ++i)
      for (Index j = 0; j < ow; ++j) {
        const Index o = ((s * oh + i) * ow + j) * c;
        max_pixel(in + ((s * h + 2 * i) * w + 2 * j) * c, c, w * c, c, out + o, from + o);
      }
}

void max_pool_2x2_spread(const float* g, const std::uint8_t* from, Index samples, Index h, Index w, Index c,
                         bool through_relu, float* dx) {
  const Index oh = h / 2, ow = w / 2;
  for (Index s = 0; s < samples; ++s)
    for (Index i = 0; i < oh; ++i)
      for (Index j = 0; j < ow; ++j) {
        const Index o = ((s * oh + i) * ow + j) * c;
        spread_pixel(g + o, from + o, c, w * c, c, through_relu, dx + ((s * h + 2 * i) * w + 2 * j) * c);
      }
}

#else  // not x86-64: pool2d.cpp's general code pools every window

bool max_pool_2x2_available() { return false; }
void max_pool_2x2_forward(const float*, Index, Index, Index, Index, float*, std::uint8_t*) {}
void max_pool_2x2_spread(const float*, const std::uint8_t*, Index, Index, Index, Index, bool, float*) {}

#endif

}  // namespace trainer::model
