#include "trainer/gemm_stack.hpp"

#include <algorithm>

namespace trainer {

GemmStacks gemm_stacks(const Network& net, std::int64_t micro, std::int64_t eval, int threads) {
  GemmStacks s;
  for (const GemmProduct& p : net.gemm_products(micro, eval)) {
    // A per-thread product is tiled for one thread and runs on every thread's stack.
    const GemmTiling t = gemm_tiling(p.m, p.n, p.k, p.per_thread ? 1 : threads);
    s.caller = std::max(s.caller, t.packing_bound);
    if (t.threads > 1 || p.per_thread) s.worker = std::max(s.worker, t.packing_bound);
  }
  return s;
}

}  // namespace trainer
