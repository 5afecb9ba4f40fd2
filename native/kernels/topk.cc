// Native per-row top-k of x [rows, cols] (spec: topk in src/backend/ref/reduce.ts):
// the k largest values in descending order with their indices, ties to the lower
// index. Small k keeps a sorted buffer of the best k seen and skips whole vectors
// that cannot enter it (one compare per W values); large k partially sorts an
// index array. NaN ranks below every number (a total order, so nothing can read
// out of bounds); the reference leaves NaN ordering unspecified. k > cols fills
// the extra slots with NaN and index -1. Rows are split over the pool.
// Not here: sampling (src/engine), MoE routing weights (src/nn).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "common/vmath.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

using vm::vf;
constexpr int64_t kSmallK = 64;

/** Does (a, ia) rank before (b, ib)? Numbers before NaN, larger first, then lower index. */
R1TS_INLINE bool ranks_before(float a, int64_t ia, float b, int64_t ib) {
  const bool an = a != a, bn = b != b;
  if (an != bn) return bn;
  if (!an && a != b) return a > b;
  return ia < ib;
}

template <int L>
R1TS_INLINE void topk_small_body(const float* x, float* values, int32_t* indices, int64_t cols, int64_t k, int64_t r0, int64_t r1) {
  constexpr int W = vm::Lanes<L>::W;
  float bv[kSmallK];
  int64_t bi[kSmallK];
  for (int64_t r = r0; r < r1; r++) {
    const float* p = x + r * cols;
    int64_t cnt = 0;
    auto offer = [&](int64_t j) __attribute__((always_inline)) {
      const float v = p[j];
      int64_t pos;
      if (cnt < k) {
        pos = cnt++;
      } else {
        // j is larger than every index held, so it enters only if strictly better than the worst
        if (!ranks_before(v, j, bv[k - 1], bi[k - 1])) return;
        pos = k - 1;
      }
      while (pos > 0 && ranks_before(v, j, bv[pos - 1], bi[pos - 1])) {
        bv[pos] = bv[pos - 1];
        bi[pos] = bi[pos - 1];
        pos--;
      }
      bv[pos] = v;
      bi[pos] = j;
    };
    int64_t j = 0;
    for (; j < cols && cnt < k; j++) offer(j);
    for (; j + W <= cols; j += W) {
      const float worst = bv[k - 1];
      if (worst == worst) {
        // skip the vector when no lane beats the worst held value (NaN lanes never do)
        auto m = vm::load<W>(p + j) > worst;
        bool any = false;
        for (int q = 0; q < W; q++) any |= m[q] != 0;
        if (!any) continue;
      }
      for (int q = 0; q < W; q++) offer(j + q);
    }
    for (; j < cols; j++) offer(j);
    for (int64_t q = 0; q < cnt; q++) {
      values[r * k + q] = bv[q];
      indices[r * k + q] = static_cast<int32_t>(bi[q]);
    }
    for (int64_t q = cnt; q < k; q++) {
      values[r * k + q] = __builtin_nanf("");
      indices[r * k + q] = -1;
    }
  }
}
R1TS_MULTIVERSION(topk_small, (const float* x, float* values, int32_t* indices, int64_t cols, int64_t k, int64_t r0, int64_t r1),
                  (x, values, indices, cols, k, r0, r1))

void topk_large(const float* x, float* values, int32_t* indices, int64_t cols, int64_t k, int64_t r0, int64_t r1) {
  std::vector<int32_t> order(static_cast<size_t>(cols));
  const int64_t kk = k < cols ? k : cols;
  for (int64_t r = r0; r < r1; r++) {
    const float* p = x + r * cols;
    for (int64_t j = 0; j < cols; j++) order[j] = static_cast<int32_t>(j);
    std::partial_sort(order.begin(), order.begin() + kk, order.end(), [p](int32_t a, int32_t b) { return ranks_before(p[a], a, p[b], b); });
    for (int64_t q = 0; q < kk; q++) {
      values[r * k + q] = p[order[q]];
      indices[r * k + q] = order[q];
    }
    for (int64_t q = kk; q < k; q++) {
      values[r * k + q] = __builtin_nanf("");
      indices[r * k + q] = -1;
    }
  }
}

// (x, values, indices, rows, cols, k)
Napi::Value TopK(const Napi::CallbackInfo& info) {
  const char* kn = "topk";
  const float* x = arg_f32(info, 0, kn);
  float* values = arg_f32(info, 1, kn);
  int32_t* indices = arg_i32(info, 2, kn);
  int64_t rows = int_arg(info, 3), cols = int_arg(info, 4), k = int_arg(info, 5);
  if (rows <= 0 || k <= 0) return info.Env().Undefined();
  if (cols < 0) cols = 0;
  int64_t grain = (1 << 15) / (cols + 1) + 1;
  if (k <= kSmallK) {
    par_range(rows, grain, [&](int64_t b, int64_t e) { topk_small(x, values, indices, cols, k, b, e); });
  } else {
    par_range(rows, grain, [&](int64_t b, int64_t e) { topk_large(x, values, indices, cols, k, b, e); });
  }
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(topk, r1ts::TopK)
