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
  bool first = true;
  for (const auto& t : net.layout().tensors) {
    if (t.shape.size() != 2) continue;  // biases
    const std::int64_t out = t.shape[0], in = t.shape[1];
    product(micro, out, in);  // forward
    product(out, in, micro);  // weight gradient
    if (!first) product(micro, in, out);  // input gradient (none for the first layer)
    product(eval, out, in);   // forward-only pass
    first = false;
  }
  return s;
}

}  // namespace trainer
