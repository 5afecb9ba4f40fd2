// One persistent thread pool for all kernels. The calling (JS) thread works as
// thread 0; workers spin briefly after a job (cheap back-to-back kernels) and
// then sleep. Thread count: R1TS_THREADS, else all cores; settable from JS.
// A parallel call made from inside a pool job runs serially (no deadlock).
#pragma once
#include <cstdint>
#include <functional>

namespace r1ts {

/** Threads in use (including the caller). */
int pool_threads();
/** Sets the thread count (>= 1); returns the count in force. */
int set_pool_threads(int n);

/** Runs fn(tid, nt) on nt = min(want, pool_threads()) threads; the caller is tid 0. Returns when all finish. */
void parallel_run(int want, const std::function<void(int tid, int nt)>& fn);

/**
 * Splits [0, n) into contiguous chunks of at least `grain` items over the pool and calls
 * fn(begin, end) for each; small n runs inline on the caller.
 */
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace r1ts
