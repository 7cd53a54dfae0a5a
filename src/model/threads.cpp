// The compute thread count shared by the kernels.
//
// Eigen is kept single-threaded on purpose: its own OpenMP GEMM allocates the packed LHS on
// the heap at every product, which would break the zero-allocation step. The kernels split
// GEMMs into tiles over our own compute threads instead (compute_pool.hpp, dense_kernels.cpp).
#include "eigen.hpp"
#include <atomic>
#include <thread>

#include "kernels.hpp"
#include "trainer/model.hpp"

namespace trainer {
namespace {

std::atomic<int> g_threads{1};

}  // namespace

int set_compute_threads(int threads) {
  int n = threads;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  Eigen::setNbThreads(1);
  g_threads.store(n, std::memory_order_relaxed);
  return n;
}

namespace model {

int compute_threads() { return g_threads.load(std::memory_order_relaxed); }

}  // namespace model
}  // namespace trainer
