// The stack bytes the network's GEMMs touch, per compute thread, for a given batch: the
// "GEMM scratch" line of a memory plan.
//
// Both GEMM paths pack a tile's operands into arrays on the stack of the thread running the
// product: the packed AVX-512 kernel (src/model/packed_gemm.hpp) a slice of depth <= 256 of
// both, and Eigen's sequential GEMM a kc x mc block of the left operand and a kc x nc block of
// the right one (computeProductBlockingSizes picks kc, mc, nc from the cache sizes). The model
// cuts products into output tiles, picks the path and says how much each packs (gemm_tiling in
// model.hpp). Touched stack pages stay resident for the thread's life, so each thread holds the
// largest packing of any product it ran. Products Eigen does not pack are free: a single row
// or column (GEMV) and tiny ones (computed coefficient-wise). Small products run on the calling
// thread only.
// Measured against RssAnon: docs/memory.md.
#pragma once

#include <cstdint>

#include "trainer/model.hpp"

namespace trainer {

struct GemmStacks {
  std::uint64_t caller = 0;  // the thread that calls train_micro_batch / evaluate
  std::uint64_t worker = 0;  // each OpenMP worker (products split over the threads)
  std::uint64_t total(int threads) const {
    return caller + static_cast<std::uint64_t>(threads > 1 ? threads - 1 : 0) * worker;
  }
};

// Over a training step at micro-batch `micro` (forward, weight and input gradients) and a
// forward-only pass at `eval` rows, with `threads` compute threads.
GemmStacks gemm_stacks(const Network& net, std::int64_t micro, std::int64_t eval, int threads);

}  // namespace trainer
