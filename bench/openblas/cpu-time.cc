// Single-thread GEMM, r1ts beside OpenBLAS, timed in thread CPU time (CLOCK_THREAD_CPUTIME_ID)
// rather than wall time: on a shared, oversubscribed machine this leaves out the time the thread
// was preempted, so the comparison of the two kernels survives other processes' load (cache and
// memory-bandwidth contention still count). Calls the engine in native/kernels/gemm-core.h
// directly (no N-API, AVX-512 level, one thread). Not built by npm; see docs/benchmarks.md:
//   g++ -O3 -std=c++17 -pthread -Inative -I/usr/include/x86_64-linux-gnu/openblas-pthread
//     bench/openblas/cpu-time.cc native/common/cpu.cc native/common/threadpool.cc
//     -o bench/.build/cpu-time -lopenblas      (one command line)
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/.build/cpu-time
#include <cblas.h>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>
#include "kernels/gemm-core.h"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

namespace {

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const int kShapes[][3] = {{256, 256, 256},    {512, 512, 512},    {1024, 1024, 1024}, {2048, 2048, 2048},
                          {4096, 256, 1024},  {4096, 1024, 256},  {4096, 256, 4096}};

template <class F>
double gflops(F f, double flops, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = cpu_now();
    f();
    best = std::min(best, cpu_now() - t0);
  }
  return flops / best * 1e-9;
}

}  // namespace

int main() {
  using namespace r1ts::gemm;
  openblas_set_num_threads(1);
  r1ts::set_cpu_level(r1ts::kAvx512);
  std::printf("m×k×n                r1ts  openblas (%s)  ratio   [GFLOP/s, 1 thread, best of thread CPU time]\n", openblas_get_corename());
  for (auto& s : kShapes) {
    const int m = s[0], k = s[1], n = s[2];
    std::vector<float> a(static_cast<size_t>(m) * k, 0.5f), b(static_cast<size_t>(k) * n, 0.25f), c(static_cast<size_t>(m) * n);
    const double flops = 2.0 * m * k * n;
    const int reps = flops > 4e9 ? 5 : 12;
    Args g{1, m, n, k, false, false, 1.0f, 0.0f, 0, 0, 0, a.data(), b.data(), c.data(), nullptr};
    double ours = 0, theirs = 0;
    for (int round = 0; round < 3; round++) {  // alternate, keep each one's best
      ours = std::max(ours, gflops([&] { blocked<B512>(g, a.data(), b.data(), c.data(), 0, m, 0, n, tile_avx512<B512::MR>, nullptr); }, flops, reps));
      theirs = std::max(theirs, gflops([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
      }, flops, reps));
    }
    std::printf("%4d×%4d×%4d  %8.1f  %8.1f  %14.2f\n", m, k, n, ours, theirs, ours / theirs);
  }
  return 0;
}
