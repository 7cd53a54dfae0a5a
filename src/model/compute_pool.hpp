// The compute threads the kernels split their work over.
//
// Not OpenMP: libgomp's barrier spins for a long time before sleeping, so on a machine whose
// cores are shared (another process, our own prefetch thread) a descheduled thread stalls the
// others while they burn the cores it needs; and a forked child (the memory trials) inherits a
// pool whose threads do not exist. These workers spin for a few microseconds, then sleep on
// the atomic (futex); the pool is rebuilt lazily in a forked child.
//
// run_on_threads() allocates nothing once the workers exist (they are started on first use).
// Work is shared out dynamically (WorkItems) rather than by thread: with a static split a
// descheduled thread holds up the others for a whole time slice of the OS, and this machine's
// cores are shared.
// Thread-safety: called from one thread at a time (the training thread).
#pragma once

#include <atomic>
#include <cstdint>

namespace trainer::model {

// A non-owning reference to a callable void(int tid, int count).
class ThreadJob {
 public:
  template <class Fn>
  ThreadJob(Fn& fn) : object_(&fn), call_([](void* o, int tid, int count) { (*static_cast<Fn*>(o))(tid, count); }) {}
  void operator()(int tid, int count) const { call_(object_, tid, count); }

 private:
  void* object_;
  void (*call_)(void*, int, int);
};

// Runs job(slot, count) on up to `count` threads: the caller as slot 0, then each worker that
// joins before the caller's own call has returned, as slots 1, 2, ... (below count). Returns
// when every call that started has returned. A worker still waiting for a core when the
// caller is done does not run the job at all: so a job must not leave work to a given slot, but
// share it out through WorkItems, which lets whichever threads run take all of it. Called from
// inside a job, it runs job(0, 1) on the calling thread: a kernel that splits its own work may
// be called from a parallel region.
void run_on_threads(int count, ThreadJob job);

// Has every compute worker touch this many bytes of its stack (the GEMM packing the memory plan
// books for it), when it starts and when the amount grows: a worker may take no part in a short
// run, and its stack must hold what the plan counts all the same.
void reserve_worker_stacks(std::uint64_t bytes);

// Items [0, count) handed out one at a time to the threads of a job, in order.
class WorkItems {
 public:
  explicit WorkItems(std::int64_t count) : count_(count) {}
  // The next item, or -1 when none is left.
  std::int64_t next() {
    const std::int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    return i < count_ ? i : -1;
  }

 private:
  std::atomic<std::int64_t> next_{0};
  std::int64_t count_;
};

}  // namespace trainer::model
