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

  void run(int count, ThreadJob job) {
    std::lock_guard<std::mutex> lock(run_mutex_);
    ensure_workers(count - 1);
    job_ = &job;
    count_ = count;
    pending_.store(count - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    run_job(job, 0, count);
    for (int i = 0; i < kSpin && pending_.load(std::memory_order_acquire) != 0; ++i) TRAINER_PAUSE();
    for (int p; (p = pending_.load(std::memory_order_acquire)) != 0;) pending_.wait(p, std::memory_order_acquire);
  }

 private:
  void ensure_workers(int wanted) {
    while (static_cast<int>(workers_->size()) < wanted) {
      const int tid = static_cast<int>(workers_->size()) + 1;
      const std::uint32_t seen = generation_.load(std::memory_order_acquire);
      workers_->emplace_back([this, tid, seen] { work(tid, seen); });
    }
  }

  void work(int tid, std::uint32_t seen) {
    for (;;) {
      std::uint32_t g = seen;
      for (int i = 0; i < kSpin && (g = generation_.load(std::memory_order_acquire)) == seen; ++i) TRAINER_PAUSE();
      while ((g = generation_.load(std::memory_order_acquire)) == seen) generation_.wait(seen, std::memory_order_acquire);
      seen = g;
      if (tid < count_) {
        run_job(*job_, tid, count_);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
      }
    }
  }

  // In a forked child only the forking thread exists: drop the dead workers (without joining
  // or destroying their std::thread objects) so the next run starts new ones.
  void forget_after_fork() {
    new (&run_mutex_) std::mutex();
    workers_ = new std::vector<std::thread>();
    pending_.store(0);
  }

  std::mutex run_mutex_;
  std::vector<std::thread>* workers_ = new std::vector<std::thread>();  // never destroyed: workers run until exit
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<int> pending_{0};
  const ThreadJob* job_ = nullptr;
  int count_ = 0;
};

}  // namespace

void run_on_threads(int count, ThreadJob job) {
  if (count <= 1 || t_in_job) {
    job(0, 1);
    return;
  }
  Pool::instance().run(count, job);
}

}  // namespace trainer::model
