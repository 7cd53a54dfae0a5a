#include "trainer/gemm_stack.hpp"

#include <algorithm>

namespace trainer {

GemmStacks gemm_stacks(const Network& net, std::int64_t micro, std::int64_t eval, int threads) {
  GemmStacks s;
  auto product = [&](std::int64_t m, std::int64_t n, std::int64_t k) {
    const GemmTiling t = gemm_tiling(m, n, k, threads);
    s.caller = std::max(s.caller, t.packing_bound);
    if (t.threads > 1) s.worker = std::max(s.worker, t.packing_bound);
  };
  for (const GemmProduct& p : net.gemm_products(micro, eval)) product(p.m, p.n, p.k);
  return s;
}

}  // namespace trainer
