#include "compute_pool.hpp"

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TRAINER_PAUSE() _mm_pause()
#else
#define TRAINER_PAUSE() ((void)0)
#endif

namespace trainer::model {
namespace {

// Whether this thread is running a job: a job that calls run_on_threads again (a kernel that
// splits its own work, called from inside a layer's parallel region) runs it on itself, since the
// other threads are busy with their own parts of the outer job.
thread_local bool t_in_job = false;

// Runs job(tid, count) with t_in_job set.
void run_job(const ThreadJob& job, int tid, int count) {
  struct InJob {
    InJob() { t_in_job = true; }
    ~InJob() { t_in_job = false; }
  } in_job;
  job(tid, count);
}

std::atomic<std::uint64_t> g_worker_stack{0};  // reserve_worker_stacks()

// Touches `bytes` of the calling thread's stack, below this frame; the pages stay resident.
__attribute__((noinline)) void touch_stack(std::uint64_t bytes) {
  auto* p = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (std::uint64_t i = 0; i < bytes; i += 4096) p[i] = 0;
}

// Spin this many pauses (a few tens of microseconds) before sleeping: long enough to catch
// the next parallel region of a training step, short enough not to starve a shared core.
constexpr int kSpin = 4000;

class Pool {
 public:
  Pool() { pthread_atfork(nullptr, nullptr, [] { instance().forget_after_fork(); }); }

  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  // The caller runs its part, then closes the job: workers that joined before are waited for,
  // later ones skip it. On a machine whose cores are shared, a woken worker may wait several
  // milliseconds for a core; a job that shares its work out dynamically lets the caller do that
  // worker's part instead of waiting for it.
  void run(int count, ThreadJob job) {
    std::lock_guard<std::mutex> lock(run_mutex_);
    ensure_workers(count - 1);
    job_.store(&job, std::memory_order_relaxed);
    count_.store(count, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    const std::uint32_t g = generation_.load(std::memory_order_relaxed) + 1;
    state_.store(std::uint64_t{g} << 32 | kOpen, std::memory_order_release);
    generation_.store(g, std::memory_order_release);
    generation_.notify_all();
    run_job(job, 0, count);
    const auto joined = static_cast<std::uint32_t>(state_.exchange(0, std::memory_order_acq_rel) & kJoined);
    for (int i = 0; i < kSpin && finished_.load(std::memory_order_acquire) != joined; ++i) TRAINER_PAUSE();
    for (std::uint32_t f; (f = finished_.load(std::memory_order_acquire)) != joined;)
      finished_.wait(f, std::memory_order_acquire);
  }

 private:
  // state_: the job's generation (high 32 bits), whether it is open, and how many workers joined.
  static constexpr std::uint64_t kOpen = std::uint64_t{1} << 31, kJoined = kOpen - 1;

  // A new worker is waited for until it has touched its stack share: a job does not wait for
  // workers that have not joined, and on a loaded machine a worker may get no core during a
  // whole trial, whose measured peak would then miss that worker's stack, which the plan counts.
  void ensure_workers(int wanted) {
    while (static_cast<int>(workers_->size()) < wanted) {
      const std::uint32_t seen = generation_.load(std::memory_order_acquire);
      workers_->emplace_back([this, seen] { work(seen); });
    }
    const auto started = static_cast<std::uint32_t>(workers_->size());
    for (std::uint32_t r; (r = ready_.load(std::memory_order_acquire)) < started;) ready_.wait(r, std::memory_order_acquire);
  }

  void work(std::uint32_t seen) {
    std::uint64_t touched = 0;
    bool announced = false;
    for (;;) {
      if (const std::uint64_t wanted = g_worker_stack.load(std::memory_order_relaxed); wanted > touched) {
        touch_stack(wanted);
        touched = wanted;
      }
      if (!announced) {
        announced = true;
        ready_.fetch_add(1, std::memory_order_acq_rel);
        ready_.notify_all();
      }
      std::uint32_t g = seen;
      for (int i = 0; i < kSpin && (g = generation_.load(std::memory_order_acquire)) == seen; ++i) TRAINER_PAUSE();
      while ((g = generation_.load(std::memory_order_acquire)) == seen) generation_.wait(seen, std::memory_order_acquire);
      seen = g;
      // Join job g if it is still open and has room; the slot is the order of joining. The
      // generation in the state makes a job that closed and a newer one that opened meanwhile
      // look different.
      for (std::uint64_t s = state_.load(std::memory_order_acquire); s >> 32 == g && (s & kOpen) != 0;) {
        const auto slot = static_cast<int>(s & kJoined) + 1;
        const int count = count_.load(std::memory_order_relaxed);
        if (slot >= count) break;
        if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
          run_job(*job_.load(std::memory_order_relaxed), slot, count);
          finished_.fetch_add(1, std::memory_order_acq_rel);
          finished_.notify_one();
          break;
        }
      }
    }
  }

  // In a forked child only the forking thread exists: drop the dead workers (without joining
  // or destroying their std::thread objects) so the next run starts new ones.
  void forget_after_fork() {
    new (&run_mutex_) std::mutex();
    workers_ = new std::vector<std::thread>();
    state_.store(0);
    finished_.store(0);
    ready_.store(0);
  }

  std::mutex run_mutex_;
  std::vector<std::thread>* workers_ = new std::vector<std::thread>();  // never destroyed: workers run until exit
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::uint32_t> finished_{0};
  std::atomic<std::uint32_t> ready_{0};  // workers that have touched their stack share once
  std::atomic<const ThreadJob*> job_{nullptr};
  std::atomic<int> count_{0};
};

}  // namespace

void reserve_worker_stacks(std::uint64_t bytes) {
  for (std::uint64_t now = g_worker_stack.load(); now < bytes && !g_worker_stack.compare_exchange_weak(now, bytes);) {
  }
}

void run_on_threads(int count, ThreadJob job) {
  if (count <= 1 || t_in_job) {
    job(0, 1);
    return;
  }
  Pool::instance().run(count, job);
}

}  // namespace trainer::model
