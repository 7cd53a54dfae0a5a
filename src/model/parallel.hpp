// Splitting row ranges over the compute threads, shared by the kernels.
//
// The ranges depend only on the row count and the thread count, and each is done by one thread
// whichever it is, so results are bitwise reproducible for a given thread count. Several ranges
// per thread, handed out as threads ask (WorkItems), so that a thread the OS has descheduled
// holds up little. Small jobs run on the calling thread: a parallel region costs a few
// microseconds.
#pragma once

#include <algorithm>
#include <cstdint>

#include "compute_pool.hpp"
#include "kernels.hpp"

namespace trainer::model {

// Below this many scalar operations a job is not worth waking the other threads.
inline constexpr Index kParallelMinWork = 1 << 15;
// Ranges per thread.
inline constexpr Index kPartsPerThread = 4;

// Calls fn(begin, end) on disjoint ranges covering [0, rows).
template <class Fn>
void parallel_rows(Index rows, Index work_per_row, Fn&& fn) {
  const int threads = compute_threads();
  if (threads <= 1 || rows < 2 || rows * work_per_row < kParallelMinWork) {
    fn(Index{0}, rows);
    return;
  }
  const Index parts = std::min<Index>(rows, threads * kPartsPerThread);
  WorkItems items(parts);
  auto part = [&](int, int) {
    for (Index p; (p = items.next()) >= 0;) fn(rows * p / parts, rows * (p + 1) / parts);
  };
  run_on_threads(static_cast<int>(std::min<Index>(threads, parts)), part);
}

}  // namespace trainer::model
