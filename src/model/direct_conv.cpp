#include "direct_conv.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "avx512.hpp"

namespace trainer::model {
namespace {

// The zero-padded copy of one sample: every window the output reads lies inside it.
Index padded_h(const DirectConvShape& g) { return (g.oh - 1) * g.sh + g.kh; }
Index padded_w(const DirectConvShape& g) { return (g.ow - 1) * g.sw + g.kw; }

}  // namespace

Index direct_conv_scratch_floats(const DirectConvShape& g) { return padded_h(g) * padded_w(g) * g.c; }

#if TRAINER_AVX512_KERNELS


namespace {

constexpr Index kBlock = 32;  // filters per pass: two registers per output pixel

// Copies sample x ([h, w, c]) into the padded frame ([padded_h, padded_w, c], zeros around it).
void pad_sample(const DirectConvShape& g, const float* x, float* frame) {
  const Index hp = padded_h(g), wp = padded_w(g);
  std::fill(frame, frame + hp * wp * g.c, 0.0f);
  for (Index i = 0; i < hp; ++i) {
    const Index ih = i - g.ph;
    if (ih < 0 || ih >= g.h) continue;
    const Index j0 = std::max<Index>(0, g.pw), j1 = std::min(wp, g.w + g.pw);  // frame columns inside the input
    if (j1 > j0) std::memcpy(frame + (i * wp + j0) * g.c, x + (ih * g.w + j0 - g.pw) * g.c, (j1 - j0) * g.c * sizeof(float));
  }
}

// Offsets in the frame of a window's K values (kernel row, kernel column, channel) from its
// first value.
std::array<Index, kDirectConvMaxDepth> window_offsets(const DirectConvShape& g) {
  std::array<Index, kDirectConvMaxDepth> off{};
  const Index wp = padded_w(g);
  Index t = 0;
  for (Index ki = 0; ki < g.kh; ++ki)
    for (Index kj = 0; kj < g.kw; ++kj)
      for (Index c = 0; c < g.c; ++c) off[t++] = (ki * wp + kj) * g.c + c;
  return off;
}

// P output pixels of a row, 32 filters from f0: out = bias + windows * weights (relu optional).
template <int K, int P>
TRAINER_AVX512 __attribute__((always_inline)) inline void forward_pixels(const float* const* windows, const Index* off,
                                                                         const __m512 (&w0)[K], const __m512 (&w1)[K],
                                                                         __m512 b0, __m512 b1, bool relu, float* out,
                                                                         Index ldo, __mmask16 m0, __mmask16 m1) {
  __m512 a0[P], a1[P];
#pragma GCC unroll 4
  for (int j = 0; j < P; ++j) a0[j] = b0, a1[j] = b1;
#pragma GCC unroll 12
  for (int t = 0; t < K; ++t)
#pragma GCC unroll 4
    for (int j = 0; j < P; ++j) {
      const __m512 v = _mm512_set1_ps(windows[j][off[t]]);
      a0[j] = _mm512_fmadd_ps(v, w0[t], a0[j]);
      a1[j] = _mm512_fmadd_ps(v, w1[t], a1[j]);
    }
#pragma GCC unroll 4
  for (int j = 0; j < P; ++j) {
    if (relu) {
      a0[j] = _mm512_max_ps(a0[j], _mm512_setzero_ps());
      a1[j] = _mm512_max_ps(a1[j], _mm512_setzero_ps());
    }
    _mm512_mask_storeu_ps(out + j * ldo, m0, a0[j]);
    _mm512_mask_storeu_ps(out + j * ldo + 16, m1, a1[j]);
  }
}

template <int K>
TRAINER_AVX512 void forward_k(const DirectConvShape& g, const float* x, Index samples, const float* wt,
                              const float* bias, bool relu, float* out, float* frame) {
  // Enough pixels at once that their sums' multiply-add chains keep the FMA units busy, few
  // enough that they and the 2K weight registers fit the 32.
  constexpr int P = K <= 9 ? 4 : 3;
  const auto off = window_offsets(g);
  const Index wp = padded_w(g), f = g.f;
  for (Index s = 0; s < samples; ++s) {
    pad_sample(g, x + s * g.h * g.w * g.c, frame);
    for (Index f0 = 0; f0 < f; f0 += kBlock) {
      const __mmask16 m0 = lanes(f - f0), m1 = lanes(f - f0 - 16);
      __m512 w0[K], w1[K];
      for (int t = 0; t < K; ++t) {
        w0[t] = _mm512_maskz_loadu_ps(m0, wt + t * f + f0);
        w1[t] = _mm512_maskz_loadu_ps(m1, wt + t * f + f0 + 16);
      }
      const __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias + f0) : _mm512_setzero_ps();
      const __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + f0 + 16) : _mm512_setzero_ps();
      for (Index oh = 0; oh < g.oh; ++oh) {
        const float* row = frame + oh * g.sh * wp * g.c;
        float* o = out + ((s * g.oh + oh) * g.ow) * f + f0;
        Index ow = 0;
        const float* windows[P];
        for (; ow + P <= g.ow; ow += P) {
          for (int j = 0; j < P; ++j) windows[j] = row + (ow + j) * g.sw * g.c;
          forward_pixels<K, P>(windows, off.data(), w0, w1, b0, b1, relu, o + ow * f, f, m0, m1);
        }
        for (; ow < g.ow; ++ow) {
          windows[0] = row + ow * g.sw * g.c;
          forward_pixels<K, 1>(windows, off.data(), w0, w1, b0, b1, relu, o + ow * f, f, m0, m1);
        }
      }
    }
  }
}

template <int K>
TRAINER_AVX512 void weight_grad_k(const DirectConvShape& g, const float* x, Index samples, const float* dz,
                                  const float* relu_of, float* dwt, float* db, bool accumulate, float* frame) {
  const auto off = window_offsets(g);
  const Index wp = padded_w(g), f = g.f;
  for (Index f0 = 0; f0 < f; f0 += kBlock) {
    const __mmask16 m0 = lanes(f - f0), m1 = lanes(f - f0 - 16);
    __m512 s0[K], s1[K];
    for (int t = 0; t < K; ++t) s0[t] = s1[t] = _mm512_setzero_ps();
    __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
    for (Index s = 0; s < samples; ++s) {
      pad_sample(g, x + s * g.h * g.w * g.c, frame);
      for (Index oh = 0; oh < g.oh; ++oh) {
        const float* row = frame + oh * g.sh * wp * g.c;
        const Index pixel0 = (s * g.oh + oh) * g.ow;
        for (Index ow = 0; ow < g.ow; ++ow) {
          const Index at = (pixel0 + ow) * f + f0;
          __m512 z0 = _mm512_maskz_loadu_ps(m0, dz + at), z1 = _mm512_maskz_loadu_ps(m1, dz + at + 16);
          if (relu_of) {
            z0 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m0, relu_of + at), _mm512_setzero_ps(),
                                                        _CMP_GT_OQ), z0);
            z1 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m1, relu_of + at + 16),
                                                        _mm512_setzero_ps(), _CMP_GT_OQ), z1);
          }
          d0 = _mm512_add_ps(d0, z0);
          d1 = _mm512_add_ps(d1, z1);
          const float* window = row + ow * g.sw * g.c;
#pragma GCC unroll 12
          for (int t = 0; t < K; ++t) {
            const __m512 v = _mm512_set1_ps(window[off[t]]);
            s0[t] = _mm512_fmadd_ps(v, z0, s0[t]);
            s1[t] = _mm512_fmadd_ps(v, z1, s1[t]);
          }
        }
      }
    }
    for (int t = 0; t < K; ++t) {
      float* to = dwt + t * f + f0;
      if (accumulate) {
        s0[t] = _mm512_add_ps(s0[t], _mm512_maskz_loadu_ps(m0, to));
        s1[t] = _mm512_add_ps(s1[t], _mm512_maskz_loadu_ps(m1, to + 16));
      }
      _mm512_mask_storeu_ps(to, m0, s0[t]);
      _mm512_mask_storeu_ps(to + 16, m1, s1[t]);
    }
    if (db) {
      if (accumulate) {
        d0 = _mm512_add_ps(d0, _mm512_maskz_loadu_ps(m0, db + f0));
        d1 = _mm512_add_ps(d1, _mm512_maskz_loadu_ps(m1, db + f0 + 16));
      }
      _mm512_mask_storeu_ps(db + f0, m0, d0);
      _mm512_mask_storeu_ps(db + f0 + 16, m1, d1);
    }
  }
}

using Forward = void (*)(const DirectConvShape&, const float*, Index, const float*, const float*, bool, float*, float*);
using WeightGrad = void (*)(const DirectConvShape&, const float*, Index, const float*, const float*, float*, float*,
                            bool, float*);
// By depth K (index K - 1).
constexpr Forward kForward[kDirectConvMaxDepth] = {forward_k<1>, forward_k<2>, forward_k<3>,  forward_k<4>,
                                                   forward_k<5>, forward_k<6>, forward_k<7>,  forward_k<8>,
                                                   forward_k<9>, forward_k<10>, forward_k<11>, forward_k<12>};
constexpr WeightGrad kWeightGrad[kDirectConvMaxDepth] = {
    weight_grad_k<1>, weight_grad_k<2>, weight_grad_k<3>,  weight_grad_k<4>,  weight_grad_k<5>,  weight_grad_k<6>,
    weight_grad_k<7>, weight_grad_k<8>, weight_grad_k<9>, weight_grad_k<10>, weight_grad_k<11>, weight_grad_k<12>};

}  // namespace

bool direct_conv_available(const DirectConvShape& g) {
  return avx512_available() && g.depth() >= 1 && g.depth() <= kDirectConvMaxDepth;
}

void direct_conv_forward(const DirectConvShape& g, const float* x, Index samples, const float* wt, const float* bias,
                         bool relu, float* out, float* scratch) {
  kForward[g.depth() - 1](g, x, samples, wt, bias, relu, out, scratch);
}

void direct_conv_weight_grad(const DirectConvShape& g, const float* x, Index samples, const float* dz,
                             const float* relu_of, float* dwt, float* db, bool accumulate, float* scratch) {
  kWeightGrad[g.depth() - 1](g, x, samples, dz, relu_of, dwt, db, accumulate, scratch);
}

#else  // not x86-64: the convolution unfolds its input for every layer

bool direct_conv_available(const DirectConvShape&) { return false; }
void direct_conv_forward(const DirectConvShape&, const float*, Index, const float*, const float*, bool, float*,
                         float*) {}
void direct_conv_weight_grad(const DirectConvShape&, const float*, Index, const float*, const float*, float*, float*,
                             bool, float*) {}

#endif

}  // namespace trainer::model
