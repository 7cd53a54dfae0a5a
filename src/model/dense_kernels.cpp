// GEMMs of dense layers over row-major arena buffers, without heap allocation.
//
// Eigen's sequential GEMM packs its operands into blocks declared with
// ei_declare_aligned_stack_constructed_variable: on the stack when they fit in
// EIGEN_STACK_ALLOCATION_LIMIT, on the heap otherwise. Each product here is cut into output
// tiles of at most kMaxTile x kMaxTile, which bounds those blocks to kMaxTile * kc scalars
// each (kc <= ~600 from Eigen's cache heuristics), about 1.2 MB in total: well inside the
// limit below and inside a thread's default 8 MB stack. Tiles are dealt to our own compute
// threads (compute_pool.hpp); Eigen itself stays sequential.
#define EIGEN_STACK_ALLOCATION_LIMIT (4 * 1024 * 1024)

#include "eigen.hpp"
#include <algorithm>

#include "compute_pool.hpp"
#include "kernels.hpp"

namespace trainer::model {
namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatView = Eigen::Map<RowMat<T>>;
template <class T>
using ConstMatView = Eigen::Map<const RowMat<T>>;

constexpr Index kMaxTile = 256;  // largest side of a GEMM output tile
// Products below this many multiply-adds run on the calling thread.
constexpr double kParallelMinMacs = 1 << 17;

// Eigen's own GEMM threading allocates per product (see threads.cpp); make sure it is off
// even if set_compute_threads() was never called.
[[maybe_unused]] const bool g_eigen_sequential = [] {
  Eigen::setNbThreads(1);
  return true;
}();

Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }

// Calls tile(i0, mi, j0, nj) for tiles covering the [m, n] output of a product with depth k.
template <class Tile>
void run_tiled(Index m, Index n, Index k, Tile&& tile) {
  if (m <= 0 || n <= 0) return;
  const int threads = compute_threads();
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int used = (threads > 1 && macs >= kParallelMinMacs) ? threads : 1;
  // Tiles of at most kMaxTile a side, near-equal in size; along the larger side their count
  // is a multiple of the thread count so that round-robin dealing balances the work.
  Index tiles_m = ceil_div(m, kMaxTile);
  Index tiles_n = ceil_div(n, kMaxTile);
  if (used > 1) {
    if (m >= n)
      tiles_m = std::min(m, ceil_div(tiles_m, used) * used);
    else
      tiles_n = std::min(n, ceil_div(tiles_n, used) * used);
  }
  const Index tm = ceil_div(m, tiles_m);
  const Index tn = ceil_div(n, tiles_n);
  tiles_m = ceil_div(m, tm);
  tiles_n = ceil_div(n, tn);
  const Index tiles = tiles_m * tiles_n;
  auto run_one = [&](Index t) {
    const Index i0 = (t / tiles_n) * tm;
    const Index j0 = (t % tiles_n) * tn;
    tile(i0, std::min(tm, m - i0), j0, std::min(tn, n - j0));
  };
  if (used == 1 || tiles == 1) {
    for (Index t = 0; t < tiles; ++t) run_one(t);
    return;
  }
  auto deal = [&](int tid, int count) {
    for (Index t = tid; t < tiles; t += count) run_one(t);
  };
  run_on_threads(used, deal);
}

}  // namespace

template <class T>
void dense_forward(const T* x, const T* w, const T* bias, Activation f, T* z, T* out, bool keep_z,
                   Index m, Index n, Index k) {
  const ConstMatView<T> X(x, m, k);
  const ConstMatView<T> W(w, n, k);
  MatView<T> Z(z, m, n);
  run_tiled(m, n, k, [&](Index i0, Index mi, Index j0, Index nj) {
    Z.block(i0, j0, mi, nj).noalias() = X.middleRows(i0, mi) * W.middleRows(j0, nj).transpose();
    const Index at = i0 * n + j0;
    bias_activation_tile(f, z + at, out + at, bias + j0, mi, nj, n, keep_z);
  });
}

template <class T>
void gemm_input_grad(const T* dz, const T* w, T* da, Index m, Index n, Index k) {
  const ConstMatView<T> DZ(dz, m, k);
  const ConstMatView<T> W(w, k, n);
  MatView<T> DA(da, m, n);
  run_tiled(m, n, k, [&](Index i0, Index mi, Index j0, Index nj) {
    DA.block(i0, j0, mi, nj).noalias() = DZ.middleRows(i0, mi) * W.middleCols(j0, nj);
  });
}

template <class T>
void gemm_weight_grad(const T* dz, const T* a, T* dw, Index m, Index n, Index b) {
  const ConstMatView<T> DZ(dz, b, m);
  const ConstMatView<T> A(a, b, n);
  MatView<T> DW(dw, m, n);
  run_tiled(m, n, b, [&](Index i0, Index mi, Index j0, Index nj) {
    DW.block(i0, j0, mi, nj).noalias() += DZ.middleCols(i0, mi).transpose() * A.middleCols(j0, nj);
  });
}

template <class T>
void bias_grad(const T* dz, T* db, Index rows, Index n) {
  for (Index r = 0; r < rows; ++r) {
    const T* row = dz + r * n;
    for (Index j = 0; j < n; ++j) db[j] += row[j];
  }
}

#define TRAINER_INSTANTIATE(T)                                                  \
  template void dense_forward<T>(const T*, const T*, const T*, Activation, T*, T*, bool, Index, Index, \
                                 Index);                                                         \
  template void gemm_input_grad<T>(const T*, const T*, T*, Index, Index, Index);  \
  template void gemm_weight_grad<T>(const T*, const T*, T*, Index, Index, Index); \
  template void bias_grad<T>(const T*, T*, Index, Index);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(double)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::model

namespace trainer {

std::uint64_t gemm_stack_bytes_per_thread() {
  // Eigen packs a kc x mc block of the left operand and a kc x nc block of the right one;
  // tiles bound mc, nc <= kMaxTile, and kc does not grow past its value for a huge depth.
  Eigen::Index kc = Eigen::Index(1) << 24, mc = model::kMaxTile, nc = model::kMaxTile;
  Eigen::internal::computeProductBlockingSizes<float, float, 1>(kc, mc, nc, Eigen::Index(1));
  return static_cast<std::uint64_t>(kc * (mc + nc)) * sizeof(float);
}

}  // namespace trainer
