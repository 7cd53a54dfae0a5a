#include "trainer/gemm_stack.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include <algorithm>

namespace trainer {
namespace {

// Mirrors src/model/dense_kernels.cpp: the largest tile side and the parallel threshold.
constexpr std::int64_t kMaxTile = 256;
constexpr double kParallelMinMacs = 1 << 17;
// Eigen's EIGEN_GEMM_TO_COEFFBASED_THRESHOLD: below it a product is evaluated lazily.
constexpr std::int64_t kCoeffBasedThreshold = 20;

}  // namespace

std::uint64_t gemm_packing_bytes(std::int64_t m, std::int64_t n, std::int64_t k) {
  if (m <= 1 || n <= 1 || k <= 0 || m + n + k < kCoeffBasedThreshold) return 0;
  // The model's outputs are row-major, which Eigen computes as the transposed column-major
  // product: its blocking sees the tile's columns as rows and vice versa.
  Eigen::Index kc = k, mc = std::min(n, kMaxTile), nc = std::min(m, kMaxTile);
  Eigen::internal::computeProductBlockingSizes<float, float, 1>(kc, mc, nc, Eigen::Index(1));
  return static_cast<std::uint64_t>(kc * (mc + nc)) * sizeof(float);
}

GemmStacks gemm_stacks(const Network& net, std::int64_t micro, std::int64_t eval, int threads) {
  GemmStacks s;
  auto product = [&](std::int64_t m, std::int64_t n, std::int64_t k) {
    const std::uint64_t bytes = gemm_packing_bytes(m, n, k);
    s.caller = std::max(s.caller, bytes);
    const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    if (threads > 1 && macs >= kParallelMinMacs) s.worker = std::max(s.worker, bytes);
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
