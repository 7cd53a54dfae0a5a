#include "trainer/gemm_stack.hpp"

#include <algorithm>

namespace trainer {

GemmStacks gemm_stacks(const Network& net, std::int64_t micro, std::int64_t eval, int threads) {
  GemmStacks s;
  for (const GemmProduct& p : net.gemm_products(micro, eval)) {
    const GemmStackBound b = gemm_stack_bound(p, threads);
    s.caller = std::max(s.caller, b.caller);
    s.worker = std::max(s.worker, b.worker);
  }
  return s;
}

}  // namespace trainer
