// Static splitting of row ranges over the compute threads, shared by the kernels.
//
// The split depends only on the row count and the thread count, so results are bitwise
// reproducible for a given thread count. Small jobs run on the calling thread: a parallel
// region costs a few microseconds.
#pragma once

#include <algorithm>
#include <cstdint>

#include "compute_pool.hpp"
#include "kernels.hpp"

namespace trainer::model {

// Below this many scalar operations a job is not worth waking the other threads.
inline constexpr Index kParallelMinWork = 1 << 15;

// Calls fn(begin, end) on disjoint ranges covering [0, rows), one per thread.
template <class Fn>
void parallel_rows(Index rows, Index work_per_row, Fn&& fn) {
  const int threads = compute_threads();
  if (threads <= 1 || rows < 2 || rows * work_per_row < kParallelMinWork) {
    fn(Index{0}, rows);
    return;
  }
  const int used = static_cast<int>(std::min<Index>(threads, rows));
  auto part = [&](int tid, int count) {
    const Index begin = rows * tid / count;
    const Index end = rows * (tid + 1) / count;
    if (begin < end) fn(begin, end);
  };
  run_on_threads(used, part);
}

}  // namespace trainer::model
