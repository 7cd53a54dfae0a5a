// A sandboxed trial: run some work in a forked child under a hard memory limit and report
// whether it fitted and how much memory it really used. The batch search uses it to prove a
// size before returning it; a child that dies takes nothing of the parent with it.
//
// The child sets RLIMIT_DATA (soft and hard) to limit_bytes. RLIMIT_DATA counts private
// writable mappings: the heap, anonymous mmaps, thread stacks, whether touched or not; it does
// not count read-only file maps, so memory-mapped data files are free. Note it caps VmData,
// which is at least the resident anonymous memory: the child starts with the parent's VmData
// (copied heap, stacks of the parent's threads), so a limit is only as generous as
// limit_bytes - VmData at fork.
//
// Outcomes: work() returning normally is a fit. std::bad_alloc (exit 4), trainer::Error (its
// exit code) or any other exception (exit 1), death by a signal (SIGKILL from the OOM killer,
// SIGSEGV, abort) and no answer within `timeout` (killed with SIGKILL; some libraries spin
// forever when an allocation fails) are not.
//
// Caveats of fork():
// - Only the calling thread exists in the child. Thread pools of the parent are not copied.
//   libgomp in particular: if the parent has already run an OpenMP parallel region with more
//   than one thread, a parallel region in the child hangs forever (verified here with GCC's
//   libgomp); with one thread it works. Run trials before the parent's first parallel region
//   (then the child creates its own pool), or the timeout turns the hang into a failed trial.
// - Locks held by other parent threads at fork stay locked in the child: work() must not use
//   loggers or other objects that another parent thread may be using. malloc is safe (glibc
//   resets its locks at fork).
// - The child ends with _exit(): no atexit handlers, no static destructors, no second flush
//   of the parent's stdio buffers (run_trial flushes them before forking).
// - The child restores default handlers for fatal signals, SIGINT and SIGTERM, and no core
//   file is written.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "trainer/system_probe.hpp"

namespace trainer {

struct TrialResult {
  bool fits = false;
  bool timed_out = false;
  int signal = 0;              // signal that ended the child, 0 if it exited
  int exit_code = 0;           // exit code when it exited
  std::string reason;          // empty on a fit; otherwise what went wrong, for the log
  std::uint64_t peak_rss = 0;  // VmHWM of the child during the trial: file pages of the mapped
                               // data included
  // Peak resident anonymous memory: RssAnon sampled every ~1 ms and once after work()
  // returns (work() that frees its buffers as it returns should keep them until then, or a
  // peak shorter than a millisecond is missed). Only if the sampler thread could not start,
  // VmHWM less the file/shmem pages resident at the end stands in.
  std::uint64_t peak_anon = 0;
  std::uint64_t vm_data = 0;  // VmData at the end of work(), what RLIMIT_DATA measured
  std::uint64_t elapsed_ms = 0;
};

// REQUIRES: limit_bytes > 0; timeout > 0. Blocks until the child has ended and been reaped.
// A limit above an inherited hard RLIMIT_DATA is lowered to it (only root could raise it).
TrialResult run_trial(std::uint64_t limit_bytes, std::chrono::milliseconds timeout,
                      const std::function<void()>& work);

// RLIMIT_DATA caps virtual private memory, the budget caps resident anonymous memory. The
// RLIMIT_DATA under which a child can reach `anon_budget` resident anonymous bytes: the budget
// plus what VmData already holds beyond RssAnon (`now`, read just before the trial: reserved,
// untouched heap and stacks) plus the stacks of threads the child will create (each OpenMP
// worker reserves a whole stack; measured here: 2 threads add 8 MiB of VmData while adding
// almost nothing resident, and libgomp exits with "Thread creation failed" when that does not
// fit).
std::uint64_t data_limit_for(std::uint64_t anon_budget, const ProcessMemory& now, int new_threads,
                             std::uint64_t thread_stack_bytes);
// Stack size of a thread created with default attributes: RLIMIT_STACK at start-up (usually
// 8 MiB), unless set_default_thread_stack() chose another.
std::uint64_t default_thread_stack_bytes();

// Makes threads created from now on reserve `bytes` of stack. An RLIMIT_DATA or RLIMIT_AS budget
// counts every thread's reserved stack whole, touched or not: the trainer's threads need the
// GEMM packing (at most 4 MiB, kGemmStackLimit) and the frames above it, not RLIMIT_STACK's
// usual 8 MiB each. main() calls it before any thread starts. Returns false if glibc refused.
bool set_default_thread_stack(std::uint64_t bytes);
// What main() sets: the largest GEMM packing and 512 KiB for the frames above it.
inline constexpr std::uint64_t kThreadStackBytes = (4u << 20) + (512u << 10);

}  // namespace trainer
