// Single-precision GEMM on one output tile with a register-blocked AVX-512 micro-kernel.
//
// Eigen 3.4's kernel keeps 12 of the 32 AVX-512 registers as accumulators (a 48x4 block); this
// one keeps 24 (a 12x32 block of a row-major output), which halves the loads per multiply-add.
// On the MLP's shapes it measures 1.2-1.5x Eigen per core (docs/BENCHMARKS.md). Both operands
// are packed into the calling thread's stack, sized by packed_gemm_scratch_bytes(), which the
// memory plan uses too; nothing is allocated on the heap.
//
// Packing an operand marked may_hold_zeros also records, per 12-row (or 32-column) slice, the
// depth steps where the slice is all zeros, and the kernel skips the steps that are zero in
// either operand. A skipped step would only add exact zeros, so every sum is the same float
// (up to the sign of a zero). What differs is 0 * inf: a skipped step does not make an output
// NaN, which is why weights loaded from files are checked to be finite (inputs already are).
// ReLU activations, their gradients and blank pixels make 10-20% of the MLP's steps zero.
//
// The kernel is compiled for AVX-512 in every x86-64 build and chosen at run time: where the CPU
// lacks AVX-512 (or on another architecture) packed_gemm_available() is false and the dense
// kernels use Eigen for every product.
#pragma once

#include <cstdint>

namespace trainer::model {

using Index = std::int64_t;

// A read-only matrix: element (i, j) is data[i * row_stride + j * col_stride]. One of the strides
// is 1: the operands are row-major matrices or their transposes.
struct MatrixOperand {
  const float* data = nullptr;
  Index row_stride = 0, col_stride = 0;
  // Whether packing looks for depth steps where a block of it is all zeros, which the kernel then
  // skips: worth it for activations and their gradients (ReLU, blank pixels), not for weights.
  bool may_hold_zeros = false;
};

bool packed_gemm_available();

// Stack bytes packed_gemm_tile() takes for an [m, n] tile of depth k.
std::uint64_t packed_gemm_scratch_bytes(Index m, Index n, Index k);
// The most it takes for any tile of at most m rows, n columns and depth k (the bytes above are
// not monotone in k: a depth of 256 is one slice of 256, 300 two of 150).
std::uint64_t packed_gemm_scratch_bound(Index m, Index n, Index k);

// c[m, n] (row stride ldc) = a[m, k] * b[k, n], or += with accumulate. The packing takes
// packed_gemm_scratch_bytes(m, n, k) of the stack, so callers bound m and n (the dense kernels'
// tiles are at most 512 a side). Only call when packed_gemm_available().
void packed_gemm_tile(Index m, Index n, Index k, MatrixOperand a, MatrixOperand b, float* c, Index ldc,
                      bool accumulate);

}  // namespace trainer::model
