// The compute threads the kernels split their work over.
//
// Not OpenMP: libgomp's barrier spins for a long time before sleeping, so on a machine whose
// cores are shared (another process, our own prefetch thread) a descheduled thread stalls the
// others while they burn the cores it needs; and a forked child (the memory trials) inherits a
// pool whose threads do not exist. These workers spin for a few microseconds, then sleep on
// the atomic (futex); the pool is rebuilt lazily in a forked child.
//
// run_on_threads() allocates nothing once the workers exist (they are started on first use).
// Thread-safety: called from one thread at a time (the training thread).
#pragma once

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

// Runs job(tid, count) for tid in [0, count) on `count` threads (the caller is tid 0) and
// returns when every call has returned. Called from inside a job, it runs job(0, 1) on the
// calling thread: a kernel that splits its own work may be called from a parallel region.
void run_on_threads(int count, ThreadJob job);

}  // namespace trainer::model
