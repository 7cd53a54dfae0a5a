#include "packed_gemm.hpp"

#include <algorithm>
#include <cstdint>

#include "avx512.hpp"

namespace trainer::model {
namespace {

// Micro-tile: kMr output rows x kNr output columns (two 16-float registers per row).
constexpr Index kMr = 12, kNr = 32;
// Depth of one packed slice. A slice of kMr rows of the left operand (12 KiB) stays in L1
// while the right operand's packed columns (up to 512 KiB) stream from L2.
constexpr Index kMaxDepth = 256;
// Per packed slice, one bit per depth step: set where the slice's values there are not all zero.
// The kernel skips a depth step that is zero in either operand (ReLU outputs and their gradients,
// blank pixels): those multiply-adds add exact zeros.
constexpr Index kMaskWords = kMaxDepth / 64;
using MaskWord = std::uint64_t;

// A row-major left operand is packed one slice at a time, just before its products, as kMr rows
// of this many floats: a constant stride, so the kernel reaches row r at a fixed offset (the +16
// spreads the rows over L1 sets).
constexpr Index kPanelStride = kMaxDepth + 16;

Index round_up(Index v, Index to) { return (v + to - 1) / to * to; }
Index depth_pieces(Index k) { return (k + kMaxDepth - 1) / kMaxDepth; }
// Equal pieces, so that a depth of 260 is two slices of 130 rather than 256 + 4.
Index piece_depth(Index k) { return (k + depth_pieces(k) - 1) / depth_pieces(k); }
// Floats of the packed left operand (all its slices, or one row panel), rounded up so that the
// right one starts 64-byte aligned.
Index left_floats(Index m, Index k) {
  return std::max(round_up(round_up(m, kMr) * piece_depth(k), 16), kMr * kPanelStride);
}

}  // namespace

std::uint64_t packed_gemm_scratch_bytes(Index m, Index n, Index k) {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const Index floats = left_floats(m, k) + round_up(n, kNr) * piece_depth(k);
  const Index masks = ((m + kMr - 1) / kMr + (n + kNr - 1) / kNr) * kMaskWords;
  return static_cast<std::uint64_t>(floats) * sizeof(float) + static_cast<std::uint64_t>(masks) * sizeof(MaskWord) +
         64;  // + 64: alignment
}

std::uint64_t packed_gemm_scratch_bound(Index m, Index n, Index k) {
  // Every term is monotone in the tile sides and in the slice depth, and a slice is at most
  // min(k, kMaxDepth) deep.
  return packed_gemm_scratch_bytes(m, n, std::min(k, kMaxDepth));
}

#if TRAINER_AVX512_KERNELS

namespace {

// Lanes of v that are not +-0.
TRAINER_AVX512 __mmask16 nonzero_lanes(__m512 v) {
  return _mm512_test_epi32_mask(_mm512_castps_si512(v), _mm512_set1_epi32(0x7FFFFFFF));
}

// Sets the bits of steps p, p + 1, ... where `steps` has them (at most to the end of p's word).
void mark(MaskWord* mask, Index p, MaskWord steps) { mask[p >> 6] |= steps << (p & 63); }

// Masks of `slices` slices kc deep: every step set when the operand is not searched for zeros,
// none (to be marked while packing) when it is.
void clear_masks(MaskWord* masks, Index slices, Index kc, bool search) {
  for (Index q = 0; q < slices; ++q)
    for (Index w = 0; w < kMaskWords; ++w) {
      const Index bits = std::clamp<Index>(kc - w * 64, 0, 64);
      masks[q * kMaskWords + w] = search || bits == 0 ? 0 : bits == 64 ? ~MaskWord{0} : (MaskWord{1} << bits) - 1;
    }
}

// out[j] = column j of the 16x16 block whose rows are in[0..15]: 64 shuffles instead of 256
// scalar stores. Pairs of rows interleave (ps), then pairs of pairs (pd), which leaves in each
// 128-bit lane four rows of one column; two rounds of lane shuffles gather the four lanes.
TRAINER_AVX512 void transpose16(const __m512 in[16], __m512 out[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(in[i], in[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(in[i], in[i + 1]);
  }
  // u[4g + c], lane L: rows 4g..4g+3 of column 4L + c.
  for (int g = 0; g < 4; ++g) {
    const __m512d lo0 = _mm512_castps_pd(t[4 * g]), lo1 = _mm512_castps_pd(t[4 * g + 2]);
    const __m512d hi0 = _mm512_castps_pd(t[4 * g + 1]), hi1 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 even01 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 odd01 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 even23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 odd23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
    out[c] = _mm512_shuffle_f32x4(even01, even23, _MM_SHUFFLE(2, 0, 2, 0));
    out[8 + c] = _mm512_shuffle_f32x4(even01, even23, _MM_SHUFFLE(3, 1, 3, 1));
    out[4 + c] = _mm512_shuffle_f32x4(odd01, odd23, _MM_SHUFFLE(2, 0, 2, 0));
    out[12 + c] = _mm512_shuffle_f32x4(odd01, odd23, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// Reads rows[0..count) (each from `from`, `left` values at most) as a 16x16 block, zero
// elsewhere, and transposes it.
TRAINER_AVX512 void load_transposed(const float* const rows[16], Index count, Index from, Index left, __m512 out[16]) {
  __m512 in[16];
  const __mmask16 m = lanes(left);
  for (Index r = 0; r < 16; ++r) in[r] = r < count ? _mm512_maskz_loadu_ps(m, rows[r] + from) : _mm512_setzero_ps();
  transpose16(in, out);
}

// One depth step of the 12x32 block: c += pa (one value per row, broadcast) * pb (a row of 32).
// The left values are side by side ([p][r] slices) or kPanelStride apart (row panels).
template <bool kHalf, bool kRowPanel>
TRAINER_AVX512 __attribute__((always_inline)) inline void multiply_add(const float* pa, const float* pb,
                                                                       __m512 (&c0)[kMr], __m512 (&c1)[kMr]) {
  const __m512 b0 = _mm512_load_ps(pb);
  const __m512 b1 = kHalf ? b0 : _mm512_load_ps(pb + 16);
#pragma GCC unroll 12
  for (int r = 0; r < kMr; ++r) {
    const __m512 a = _mm512_set1_ps(pa[kRowPanel ? r * kPanelStride : r]);
    c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
    if (!kHalf) c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
  }
}

// c[mv, nv] (=|+=) pa * pb, where pa is a packed [kc, kMr] slice (or with kRowPanel a
// [kMr, kPanelStride] panel) and pb a packed [kc, kNr] one, over the depth steps whose bits are
// set in both masks. All 12 rows are computed (packing pads with zeros); only mv x nv is stored.
// With kHalf, only the first 16 columns: a tile's last slice is often narrow (a 196-column tile
// ends in 4).
template <bool kHalf, bool kRowPanel>
TRAINER_AVX512 void micro_kernel(Index kc, const float* __restrict pa, const float* __restrict pb, const MaskWord* ma,
                                 const MaskWord* mb, float* c, Index ldc, Index mv, Index nv, bool accumulate) {
  __m512 c0[kMr], c1[kMr];
#pragma GCC unroll 12
  for (int r = 0; r < kMr; ++r) {
    c0[r] = _mm512_setzero_ps();
    c1[r] = _mm512_setzero_ps();
  }
  const Index words = (kc + 63) / 64;
  MaskWord both[kMaskWords];
  Index steps = 0;
  for (Index w = 0; w < words; ++w) {
    both[w] = ma[w] & mb[w];
    steps += __builtin_popcountll(both[w]);
  }
  if (steps == kc) {
    for (Index p = 0; p < kc; ++p)
      multiply_add<kHalf, kRowPanel>(pa + p * (kRowPanel ? 1 : kMr), pb + p * kNr, c0, c1);
  } else {
    for (Index w = 0; w < words; ++w)
      for (MaskWord bits = both[w]; bits != 0; bits &= bits - 1) {
        const Index p = w * 64 + __builtin_ctzll(bits);
        multiply_add<kHalf, kRowPanel>(pa + p * (kRowPanel ? 1 : kMr), pb + p * kNr, c0, c1);
      }
  }
  const __mmask16 m0 = lanes(nv), m1 = lanes(nv - 16);
#pragma GCC unroll 12
  for (int r = 0; r < kMr; ++r) {
    if (r >= mv) break;
    float* row = c + r * ldc;
    __m512 v0 = c0[r];
    if (accumulate) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
    _mm512_mask_storeu_ps(row, m0, v0);
    if (kHalf) continue;
    __m512 v1 = c1[r];
    if (accumulate) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

// micro_kernel by [row panel][half width].
using MicroKernel = void (*)(Index, const float*, const float*, const MaskWord*, const MaskWord*, float*, Index, Index,
                             Index, bool);
constexpr MicroKernel kMicroKernels[2][2] = {{micro_kernel<false, false>, micro_kernel<true, false>},
                                             {micro_kernel<false, true>, micro_kernel<true, true>}};

// Rows [0, m) x depth [p0, p0 + kc) of a transposed a (a.row_stride == 1: the weight gradient's
// dz columns) into slices of kMr rows: slice q holds a(q * kMr + r, p0 + p) at [q][p][r], zero
// past row m. Each source row holds kMr consecutive values of every slice: read it once, front
// to back.
TRAINER_AVX512 void pack_left(const MatrixOperand& a, Index m, Index p0, Index kc, float* out, MaskWord* masks) {
  const Index slices = (m + kMr - 1) / kMr;
  const bool search = a.may_hold_zeros;
  clear_masks(masks, slices, kc, search);
  for (Index p = 0; p < kc; ++p) {
    const float* src = a.data + (p0 + p) * a.col_stride;
    for (Index q = 0; q < slices; ++q) {
      const __m512 v = _mm512_maskz_loadu_ps(lanes(std::min(kMr, m - q * kMr)), src + q * kMr);
      _mm512_mask_storeu_ps(out + (q * kc + p) * kMr, lanes(kMr), v);
      if (search) mark(masks + q * kMaskWords, p, nonzero_lanes(v) != 0 ? 1 : 0);
    }
  }
}

// Rows [i0, i0 + mv) x depth [p0, p0 + kc) of a row-major a into one row panel: row r at
// out[r * kPanelStride], zero rows past mv. Copies instead of transposes: the kernel reads the
// panel at a fixed stride.
TRAINER_AVX512 void pack_left_panel(const MatrixOperand& a, Index i0, Index mv, Index p0, Index kc, float* out,
                                    MaskWord* mask) {
  const bool search = a.may_hold_zeros;
  clear_masks(mask, 1, kc, search);
  for (Index p = 0; p < kc; p += 16) {
    const __mmask16 m = lanes(kc - p);
    __m512i any = _mm512_setzero_si512();  // integer OR: _mm512_or_ps needs AVX512DQ
    for (Index r = 0; r < kMr; ++r) {
      const __m512 v =
          r < mv ? _mm512_maskz_loadu_ps(m, a.data + (i0 + r) * a.row_stride + p0 + p) : _mm512_setzero_ps();
      _mm512_storeu_ps(out + r * kPanelStride + p, v);
      any = _mm512_or_si512(any, _mm512_castps_si512(v));
    }
    if (search) mark(mask, p, nonzero_lanes(_mm512_castsi512_ps(any)) & m);  // 16 steps, p a multiple of 16
  }
}

// Depth [p0, p0 + kc) x columns [0, n) of b into slices of kNr columns: slice q holds
// b(p0 + p, q * kNr + j) at [q][p][j], zero past column n.
TRAINER_AVX512 void pack_right(const MatrixOperand& b, Index n, Index p0, Index kc, float* out, MaskWord* masks) {
  const Index slices = (n + kNr - 1) / kNr;
  const bool search = b.may_hold_zeros;
  clear_masks(masks, slices, kc, search);
  if (b.col_stride == 1) {
    // Row-major source (gradients): each source row holds kNr consecutive values of every slice;
    // read it once, front to back.
    for (Index p = 0; p < kc; ++p) {
      const float* src = b.data + (p0 + p) * b.row_stride;
      for (Index q = 0; q < slices; ++q) {
        const Index nv = std::min(kNr, n - q * kNr);
        const __m512 v0 = _mm512_maskz_loadu_ps(lanes(nv), src + q * kNr);
        const __m512 v1 = _mm512_maskz_loadu_ps(lanes(nv - 16), src + q * kNr + 16);
        float* dst = out + (q * kc + p) * kNr;
        _mm512_store_ps(dst, v0);
        _mm512_store_ps(dst + 16, v1);
        if (search) mark(masks + q * kMaskWords, p, (nonzero_lanes(v0) | nonzero_lanes(v1)) != 0 ? 1 : 0);
      }
    }
    return;
  }
  // A transposed source (forward: the weights' rows are the columns here), 16 columns and 16
  // deep at a time.
  for (Index q = 0; q < slices; ++q) {
    float* slice = out + q * kc * kNr;
    const Index j0 = q * kNr;
    const Index nv = std::min(kNr, n - j0);
    for (Index h = 0; h < kNr; h += 16) {
      const float* rows[16];
      const Index count = std::clamp<Index>(nv - h, 0, 16);
      for (Index j = 0; j < count; ++j) rows[j] = b.data + p0 + (j0 + h + j) * b.col_stride;
      for (Index p = 0; p < kc; p += 16) {
        __m512 cols[16];
        load_transposed(rows, count, p, kc - p, cols);
        for (Index t = 0; t < std::min<Index>(16, kc - p); ++t) {
          _mm512_store_ps(slice + (p + t) * kNr + h, cols[t]);
          if (search) mark(masks + q * kMaskWords, p + t, nonzero_lanes(cols[t]) != 0 ? 1 : 0);
        }
      }
    }
  }
}

}  // namespace

bool packed_gemm_available() { return avx512_available(); }

TRAINER_AVX512 void packed_gemm_tile(Index m, Index n, Index k, MatrixOperand a, MatrixOperand b, float* c, Index ldc,
                      bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (Index i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  // On the stack, as Eigen does with its packing, so a product never touches the heap; the
  // memory plan counts these bytes (packed_gemm_scratch_bytes).
  const std::uint64_t bytes = packed_gemm_scratch_bytes(m, n, k);
  auto* raw = static_cast<unsigned char*>(__builtin_alloca(bytes));
  auto* left = reinterpret_cast<float*>(reinterpret_cast<std::uintptr_t>(raw + 63) & ~std::uintptr_t{63});
  float* right = left + left_floats(m, k);
  auto* left_masks = reinterpret_cast<MaskWord*>(right + round_up(n, kNr) * piece_depth(k));
  MaskWord* right_masks = left_masks + (m + kMr - 1) / kMr * kMaskWords;

  const Index pieces = depth_pieces(k);
  Index p0 = 0;
  for (Index piece = 0; piece < pieces; ++piece) {
    const Index p1 = k * (piece + 1) / pieces;
    const Index kc = p1 - p0;
    pack_right(b, n, p0, kc, right, right_masks);
    const bool add = accumulate || piece > 0;
    // A row-major a (forward, input gradient) is packed one 12-row slice at a time, just before
    // its products, into an L1-sized row panel; a transposed one (weight gradient) whole.
    const bool row_panels = a.col_stride == 1;
    if (!row_panels) pack_left(a, m, p0, kc, left, left_masks);
    for (Index i = 0; i < m; i += kMr) {
      const Index mv = std::min(kMr, m - i);
      if (row_panels) pack_left_panel(a, i, mv, p0, kc, left, left_masks);
      const float* pa = row_panels ? left : left + i * kc;
      const MaskWord* ma = row_panels ? left_masks : left_masks + i / kMr * kMaskWords;
      for (Index j = 0; j < n; j += kNr) {
        const Index nv = std::min(kNr, n - j);
        const MaskWord* mb = right_masks + j / kNr * kMaskWords;
        kMicroKernels[row_panels][nv <= 16](kc, pa, right + j * kc, ma, mb, c + i * ldc + j, ldc, mv, nv, add);
      }
    }
    p0 = p1;
  }
}

#else  // not x86-64: the dense kernels use Eigen

bool packed_gemm_available() { return false; }

void packed_gemm_tile(Index, Index, Index, MatrixOperand, MatrixOperand, float*, Index, bool) {}

#endif

}  // namespace trainer::model
