// Persistent thread pool (see threadpool.h).
#include "common/threadpool.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#define R1TS_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define R1TS_PAUSE() asm volatile("yield")
#else
#define R1TS_PAUSE() ((void)0)
#endif

namespace r1ts {
namespace {

thread_local bool tl_in_job = false;

class Pool {
 public:
  Pool() {
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (n < 1) n = 1;
    if (const char* e = std::getenv("R1TS_THREADS")) {
      int v = std::atoi(e);
      if (v >= 1) n = v;
    }
    resize(n);
  }
  ~Pool() { stop_all(); }

  int size() const { return nthreads_; }

  int resize(int n) {
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    if (n == nthreads_) return n;
    stop_all();
    nthreads_ = n;
    stopping_ = false;
    // Each worker starts from the generation current now: reading it inside loop() would race
    // with a job posted before the new thread first runs (that job would never be seen).
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int t = 1; t < n; t++) workers_.emplace_back([this, t, gen] { loop(t, gen); });
    return n;
  }

  void run(int want, const std::function<void(int, int)>& fn) {
    int nt = want < nthreads_ ? want : nthreads_;
    if (nt <= 1 || tl_in_job) {
      fn(0, 1);
      return;
    }
    std::lock_guard<std::mutex> serial(run_mutex_);  // one job at a time
    job_ = &fn;
    job_threads_ = nt;
    pending_.store(nt - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(m_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    tl_in_job = true;
    fn(0, nt);
    tl_in_job = false;
    // Spin briefly (workers usually finish within microseconds), then yield: on a machine
    // shared with other processes a worker may be waiting for this very core, and spinning
    // on it would hold that worker off for a whole time slice.
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; spins++) {
      if (spins < 4096) R1TS_PAUSE();
      else std::this_thread::yield();
    }
    job_ = nullptr;
  }

 private:
  void loop(int tid, uint64_t seen) {
    for (;;) {
      // Spin for a short while (back-to-back kernels), then sleep.
      auto start = std::chrono::steady_clock::now();
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen && !stopping_.load()) {
        R1TS_PAUSE();
        if (++spins % 256 == 0 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(100)) {
          std::unique_lock<std::mutex> lk(m_);
          cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen || stopping_.load(); });
        }
      }
      if (stopping_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      if (tid < job_threads_) {
        tl_in_job = true;
        (*job_)(tid, job_threads_);
        tl_in_job = false;
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  void stop_all() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  int nthreads_ = 0;
  std::vector<std::thread> workers_;
  std::mutex m_, run_mutex_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stopping_{false};
  const std::function<void(int, int)>* job_ = nullptr;
  int job_threads_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers live as long as the process
  return *p;
}

}  // namespace

int pool_threads() { return pool().size(); }
int set_pool_threads(int n) { return pool().resize(n); }

void parallel_run(int want, const std::function<void(int, int)>& fn) { pool().run(want, fn); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t chunks = n / grain;
  int nt = pool_threads();
  if (chunks < nt) nt = static_cast<int>(chunks);
  if (nt <= 1 || tl_in_job) {
    fn(0, n);
    return;
  }
  parallel_run(nt, [&](int tid, int t) {
    int64_t b = n * tid / t, e = n * (tid + 1) / t;
    if (b < e) fn(b, e);
  });
}

}  // namespace r1ts
