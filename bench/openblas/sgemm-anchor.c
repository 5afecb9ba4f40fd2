// OpenBLAS anchor for bench/kernels.ts: times cblas_sgemm (row-major, no
// transposes, alpha 1, beta 0) on the shapes given on the command line and
// prints one JSON line per shape. Not part of r1ts: bench/kernels.ts compiles
// it into bench/.build/ when Debian's libopenblas-dev is installed and runs it
// with OPENBLAS_NUM_THREADS set and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset.
// For m == 1 it also times cblas_sgemv (the anchor's best for a vector) and
// reports the faster of the two.
// Usage: sgemm-anchor <min_seconds> <m>x<k>x<n> [<m>x<k>x<n> ...]
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char* openblas_get_corename(void);
extern int openblas_get_num_threads(void);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float* rand_buf(size_t n) {
  float* p = (float*)aligned_alloc(64, ((n * sizeof(float)) + 63) / 64 * 64);
  unsigned s = 12345;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((s >> 9) & 0xffff) / 65536.0f - 0.5f;
  }
  return p;
}

/* Best seconds per call: one warm-up call, then repeat until min_s has passed (at least 3 calls). */
static double best_time(int gemv, int m, int k, int n, const float* a, const float* b, float* c, double min_s) {
  double best = 1e30, start = now();
  for (int rep = 0;; rep++) {
    double t0 = now();
    if (gemv) cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, b, n, a, 1, 0.0f, c, 1);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    double t = now() - t0;
    if (rep > 0 && t < best) best = t;
    if (rep >= 3 && now() - start > min_s) break;
  }
  return best;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <min_seconds> <m>x<k>x<n> ...\n", argv[0]);
    return 2;
  }
  double min_s = atof(argv[1]);
  for (int i = 2; i < argc; i++) {
    int m, k, n;
    if (sscanf(argv[i], "%dx%dx%d", &m, &k, &n) != 3) {
      fprintf(stderr, "bad shape %s\n", argv[i]);
      return 2;
    }
    float* a = rand_buf((size_t)m * k);
    float* b = rand_buf((size_t)k * n);
    float* c = rand_buf((size_t)m * n);
    double t = best_time(0, m, k, n, a, b, c, min_s);
    const char* how = "sgemm";
    if (m == 1) {
      double tv = best_time(1, m, k, n, a, b, c, min_s);
      if (tv < t) t = tv, how = "sgemv";
    }
    double gflops = 2.0 * m * k * n / t * 1e-9;
    printf("{\"m\":%d,\"k\":%d,\"n\":%d,\"threads\":%d,\"gflops\":%.2f,\"routine\":\"%s\",\"core\":\"%s\"}\n", m, k, n, openblas_get_num_threads(),
           gflops, how, openblas_get_corename());
    fflush(stdout);
    free(a);
    free(b);
    free(c);
  }
  return 0;
}
