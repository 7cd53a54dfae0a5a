// GEMMs of dense layers over row-major arena buffers, without heap allocation.
//
// Single-precision products go to the AVX-512 kernel of packed_gemm.hpp where it measures faster
// (use_packed below); the rest, and every double product (gradient checks), go to Eigen.
//
// Eigen's sequential GEMM packs its operands into blocks declared with
// ei_declare_aligned_stack_constructed_variable: on the stack when they fit in
// EIGEN_STACK_ALLOCATION_LIMIT, on the heap otherwise. Each product here is cut into output
// tiles of at most kTileM x kTileN, which bounds those blocks to (kTileM + kTileN) * kc scalars
// (kc <= ~600 from Eigen's cache heuristics), about 2.4 MB in total: inside the limit below and
// a thread's default 8 MB stack. Tiles are dealt to our own compute
// threads (compute_pool.hpp); Eigen itself stays sequential.
#define EIGEN_STACK_ALLOCATION_LIMIT (4 * 1024 * 1024)  // = kGemmStackLimit (model.hpp)

#include "eigen.hpp"
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "compute_pool.hpp"
#include "kernels.hpp"
#include "packed_gemm.hpp"

namespace trainer::model {
namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatView = Eigen::Map<RowMat<T>>;
template <class T>
using ConstMatView = Eigen::Map<const RowMat<T>>;

// Largest output tile: rows x columns. Every tile packs its share of both operands, so larger
// tiles pack less: 512 x 512 halved the packing of a B=2048 step against 256 x 256 (8% of the
// step left, in perf), and the packed kernel's slices of them still fit L2.
constexpr Index kTileM = 512, kTileN = 512;
// Products below this many multiply-adds run on the calling thread.
constexpr double kParallelMinMacs = 1 << 17;

// Eigen's own GEMM threading allocates per product (see threads.cpp); make sure it is off
// even if set_compute_threads() was never called.
[[maybe_unused]] const bool g_eigen_sequential = [] {
  Eigen::setNbThreads(1);
  return true;
}();

Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }

struct Tiling {
  Index tm = 0, tn = 0, tiles_m = 0, tiles_n = 0;
  int used = 1;  // threads that share the tiles
};

// Tiles of at most kTileM x kTileN, near-equal in size; along the larger side their count is a
// multiple of the thread count so that round-robin dealing balances the work.
Tiling plan_tiles(Index m, Index n, Index k, int threads) {
  Tiling t;
  if (m <= 0 || n <= 0) return t;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  t.used = (threads > 1 && macs >= kParallelMinMacs) ? threads : 1;
  t.tiles_m = ceil_div(m, kTileM);
  t.tiles_n = ceil_div(n, kTileN);
  if (t.used > 1) {
    if (m >= n)
      t.tiles_m = std::min(m, ceil_div(t.tiles_m, t.used) * t.used);
    else
      t.tiles_n = std::min(n, ceil_div(t.tiles_n, t.used) * t.used);
  }
  t.tm = ceil_div(m, t.tiles_m);
  t.tn = ceil_div(n, t.tiles_n);
  t.tiles_m = ceil_div(m, t.tm);
  t.tiles_n = ceil_div(n, t.tn);
  if (t.tiles_m * t.tiles_n == 1) t.used = 1;
  return t;
}

// Whether a float product with this tiling runs on the packed kernel. Measured per shape
// against Eigen (gemm_bench --backend trainer|eigen, docs/BENCHMARKS.md): the kernel computes
// whole 12x32 blocks, so narrow tiles (a 10-class output layer) waste most of it, and a very
// shallow product is all packing.
// The bound in gemm_tiling() relies on these two thresholds.
bool use_packed(const Tiling& t, Index k) { return packed_gemm_available() && t.tn >= 32 && k >= 16; }

// Calls tile(i0, mi, j0, nj) for the tiles of t covering an [m, n] output.
template <class Tile>
void run_tiled(const Tiling& t, Index m, Index n, Tile&& tile) {
  const Index tiles = t.tiles_m * t.tiles_n;
  auto run_one = [&](Index i) {
    const Index i0 = (i / t.tiles_n) * t.tm;
    const Index j0 = (i % t.tiles_n) * t.tn;
    tile(i0, std::min(t.tm, m - i0), j0, std::min(t.tn, n - j0));
  };
  if (t.used == 1) {
    for (Index i = 0; i < tiles; ++i) run_one(i);
    return;
  }
  auto deal = [&](int tid, int count) {
    for (Index i = tid; i < tiles; i += count) run_one(i);
  };
  run_on_threads(t.used, deal);
}

// The product's tiling, and whether its float tiles run on the packed kernel.
struct Route {
  Tiling tiling;
  bool packed = false;
};
template <class T>
Route route(Index m, Index n, Index k) {
  const Tiling t = plan_tiles(m, n, k, compute_threads());
  return {t, std::is_same_v<T, float> && use_packed(t, k)};
}

// Runs c[mi, nj] (=|+=) a[mi, k] * b[k, nj] on the packed kernel (float only; the caller routes).
template <class T>
void packed_tile(Index mi, Index nj, Index k, MatrixOperand a, MatrixOperand b, T* c, Index ldc,
                 bool accumulate) {
  if constexpr (std::is_same_v<T, float>) packed_gemm_tile(mi, nj, k, a, b, c, ldc, accumulate);
}

// Whether packing looks for all-zero depth steps for the kernel to skip: in activations and
// their gradients (ReLU zeros, blank pixels), not in weights.
enum class ZeroSteps { search, ignore };
template <class T>
MatrixOperand operand(const T* data, Index row_stride, Index col_stride, ZeroSteps zeros) {
  if constexpr (std::is_same_v<T, float>) return {data, row_stride, col_stride, zeros == ZeroSteps::search};
  return {};
}

}  // namespace

template <class T>
void dense_forward(const T* x, const T* w, const T* bias, Activation f, T* z, T* out, bool keep_z,
                   Index m, Index n, Index k) {
  const ConstMatView<T> X(x, m, k);
  const ConstMatView<T> W(w, n, k);
  MatView<T> Z(z, m, n);
  const Route r = route<T>(m, n, k);
  run_tiled(r.tiling, m, n, [&](Index i0, Index mi, Index j0, Index nj) {
    if (r.packed)  // x rows times w rows: b(p, j) = w[j, p]
      packed_tile(mi, nj, k, operand(x + i0 * k, k, 1, ZeroSteps::search), operand(w + j0 * k, 1, k, ZeroSteps::ignore),
                  z + i0 * n + j0, n, false);
    else
      Z.block(i0, j0, mi, nj).noalias() = X.middleRows(i0, mi) * W.middleRows(j0, nj).transpose();
    const Index at = i0 * n + j0;
    bias_activation_tile(f, z + at, out + at, bias ? bias + j0 : nullptr, mi, nj, n, keep_z);
  });
}

template <class T>
void gemm_input_grad(const T* dz, const T* w, T* da, Index m, Index n, Index k) {
  const ConstMatView<T> DZ(dz, m, k);
  const ConstMatView<T> W(w, k, n);
  MatView<T> DA(da, m, n);
  const Route r = route<T>(m, n, k);
  run_tiled(r.tiling, m, n, [&](Index i0, Index mi, Index j0, Index nj) {
    if (r.packed)
      packed_tile(mi, nj, k, operand(dz + i0 * k, k, 1, ZeroSteps::search), operand(w + j0, n, 1, ZeroSteps::ignore),
                  da + i0 * n + j0, n, false);
    else
      DA.block(i0, j0, mi, nj).noalias() = DZ.middleRows(i0, mi) * W.middleCols(j0, nj);
  });
}

template <class T>
void gemm_weight_grad(const T* dz, const T* a, T* dw, Index m, Index n, Index b, bool accumulate) {
  const ConstMatView<T> DZ(dz, b, m);
  const ConstMatView<T> A(a, b, n);
  MatView<T> DW(dw, m, n);
  const Route r = route<T>(m, n, b);
  run_tiled(r.tiling, m, n, [&](Index i0, Index mi, Index j0, Index nj) {
    // dz columns as rows: a(i, p) = dz[p, i]. Twelve units' gradients are rarely all zero for one
    // sample (0.2% in the MLP) while 32 of its inputs often are (13%): only a is searched.
    if (r.packed)
      packed_tile(mi, nj, b, operand(dz + i0, 1, m, ZeroSteps::ignore), operand(a + j0, n, 1, ZeroSteps::search),
                  dw + i0 * n + j0, n, accumulate);
    else if (accumulate)
      DW.block(i0, j0, mi, nj).noalias() += DZ.middleCols(i0, mi).transpose() * A.middleCols(j0, nj);
    else
      DW.block(i0, j0, mi, nj).noalias() = DZ.middleCols(i0, mi).transpose() * A.middleCols(j0, nj);
  });
}

template <class T>
void bias_grad(const T* dz, T* db, Index rows, Index n, bool accumulate) {
  if (!accumulate) std::fill(db, db + n, T(0));
  for (Index r = 0; r < rows; ++r) {
    const T* row = dz + r * n;
    for (Index j = 0; j < n; ++j) db[j] += row[j];
  }
}

#define TRAINER_INSTANTIATE(T)                                                  \
  template void dense_forward<T>(const T*, const T*, const T*, Activation, T*, T*, bool, Index, Index, \
                                 Index);                                                         \
  template void gemm_input_grad<T>(const T*, const T*, T*, Index, Index, Index);  \
  template void gemm_weight_grad<T>(const T*, const T*, T*, Index, Index, Index, bool); \
  template void bias_grad<T>(const T*, T*, Index, Index, bool);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(double)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::model

namespace trainer {
namespace {

// Stack bytes Eigen packs one tm x tn tile of depth k into (0 when it does not pack).
std::uint64_t eigen_packing_bytes(std::int64_t tm, std::int64_t tn, std::int64_t k) {
  // Eigen's EIGEN_GEMM_TO_COEFFBASED_THRESHOLD: below it a product is evaluated lazily, and a
  // single row or column is a GEMV; neither packs.
  constexpr std::int64_t kCoeffBasedThreshold = 20;
  if (tm <= 1 || tn <= 1 || k <= 0 || tm + tn + k < kCoeffBasedThreshold) return 0;
  // Outputs are row-major, which Eigen computes as the transposed column-major product: its
  // blocking sees the tile's columns as rows and vice versa. It packs a kc x mc block of the
  // left operand and a kc x nc block of the right one.
  Eigen::Index kc = k, mc = tn, nc = tm;
  Eigen::internal::computeProductBlockingSizes<float, float, 1>(kc, mc, nc, Eigen::Index(1));
  return static_cast<std::uint64_t>(kc * (mc + nc)) * sizeof(float);
}

}  // namespace

GemmTiling gemm_tiling(std::int64_t m, std::int64_t n, std::int64_t k, int threads) {
  const model::Tiling t = model::plan_tiles(m, n, k, threads);
  GemmTiling g;
  g.tile_m = t.tm;
  g.tile_n = t.tn;
  g.threads = t.used;
  g.packed = model::use_packed(t, k);
  g.packing_bytes = g.packed ? model::packed_gemm_scratch_bytes(t.tm, t.tn, k) : eigen_packing_bytes(t.tm, t.tn, k);

  // The bound over every smaller product. Tiles never exceed the caps below, but a smaller
  // product does not always get smaller tiles or depth slices (505 rows are one 505-row tile, 640
  // rows two of 320; a depth of 256 is one slice of 256, 300 two of 150), and it may take the
  // other path: Eigen when its tiles are narrower than 32 columns or its depth is under 16.
  const std::int64_t tm = std::min(m, model::kTileM), tn = std::min(n, model::kTileN);
  g.packing_bound = eigen_packing_bytes(tm, tn, k);
  if (model::packed_gemm_available()) {
    g.packing_bound = std::max({model::packed_gemm_scratch_bound(tm, tn, k),
                                eigen_packing_bytes(tm, std::min<std::int64_t>(tn, 31), k),
                                eigen_packing_bytes(tm, tn, std::min<std::int64_t>(k, 15))});
  }
  return g;
}

GemmStackBound gemm_stack_bound(const GemmProduct& p, int threads) {
  GemmStackBound b;
  auto add = [&](std::uint64_t bytes, bool parallel) {
    b.caller = std::max(b.caller, bytes);
    if (parallel) b.worker = std::max(b.worker, bytes);
  };
  // The batch side takes the values step, 2 step, ... up to its full size. Up to kExactValues of
  // them are tiled one by one, exactly as the kernels will run them: packing is not monotone in
  // either side (a tile's split, the packed kernel's depth slices, Eigen's depth blocks), so a
  // smaller product may pack more. Beyond, bounds stand in.
  constexpr std::int64_t kExactValues = 1024;
  const std::int64_t size = p.depth_is_batch ? p.k : p.m, step = std::max<std::int64_t>(1, p.step);
  if (size / step <= kExactValues) {
    for (std::int64_t v = step; v <= size; v += step) {
      const GemmTiling t = p.depth_is_batch ? gemm_tiling(p.m, p.n, v, threads) : gemm_tiling(v, p.n, p.k, threads);
      add(t.packing_bytes, t.threads > 1);
    }
    if (size % step != 0) {
      const GemmTiling t = gemm_tiling(p.m, p.n, p.k, threads);
      add(t.packing_bytes, t.threads > 1);
    }
    return b;
  }
  if (!p.depth_is_batch) {  // every smaller side: gemm_tiling's bound
    const GemmTiling t = gemm_tiling(p.m, p.n, p.k, threads);
    add(t.packing_bound, t.threads > 1);
    return b;
  }
  // Only the depth shrinks. The tiles depend on the depth only through the thread count (the
  // parallel threshold) and the path (the packed kernel from depth 16), so each regime has one
  // tiling, and a regime ends at k itself, at the deepest product that runs on one thread (its
  // one tile is the whole output), or at depth 15. The packed kernel's packing grows with the
  // depth (packed_gemm_scratch_bound). Eigen's does not: its depth block is the whole depth up to
  // a cache-derived size, then a part of it (16 x 27 packs 161 KB at depth 936, 89 KB at 1024),
  // so its regimes are searched depth by depth up to kEigenDepthSearch, past which the block
  // size only repeats.
  constexpr std::int64_t kEigenDepthSearch = 4096;
  const double per_step = static_cast<double>(p.m) * static_cast<double>(p.n);
  const auto single = static_cast<std::int64_t>(std::ceil(model::kParallelMinMacs / std::max(per_step, 1.0))) - 1;
  for (const std::int64_t k : {p.k, single, std::int64_t{15}, std::min<std::int64_t>(15, single)}) {
    if (k < 1 || k > p.k) continue;
    const model::Tiling t = model::plan_tiles(p.m, p.n, k, threads);
    if (model::use_packed(t, k)) {
      add(model::packed_gemm_scratch_bound(t.tm, t.tn, k), t.used > 1);
      continue;
    }
    add(eigen_packing_bytes(t.tm, t.tn, k), t.used > 1);
    // Shallower products of the same regime (same tiles: plan_tiles(k') == t for them).
    for (std::int64_t d = std::min(k - 1, kEigenDepthSearch); d >= 1; --d) {
      const model::Tiling u = model::plan_tiles(p.m, p.n, d, threads);
      if (u.used != t.used || model::use_packed(u, d)) break;  // another regime: searched on its own
      add(eigen_packing_bytes(u.tm, u.tn, d), u.used > 1);
    }
  }
  return b;
}

}  // namespace trainer
