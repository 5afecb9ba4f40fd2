// Native GEMM entry point: parses the positional arguments the TS wrapper
// (src/backend/native/gemm.ts) passes, checks that every array is long enough
// for the sizes and strides given (a short array would otherwise be read or
// written out of bounds), and runs the engine in kernels/gemm-core.h.
// Not here: the algorithm (gemm-core.h), shape semantics (src/backend/kernels.ts).
#include <string>
#include "common/registry.h"
#include "kernels/gemm-core.h"

namespace r1ts {
namespace {

void check_len(const Napi::CallbackInfo& info, const char* what, size_t have, int64_t batch, int64_t stride, int64_t per_item) {
  const int64_t need = (batch - 1) * stride + per_item;
  if (stride < 0 || static_cast<int64_t>(have) < need) {
    throw Napi::RangeError::New(info.Env(), std::string("gemm: ") + what + " has " + std::to_string(have) + " elements, needs " +
                                                std::to_string(need) + " (stride " + std::to_string(stride) + ")");
  }
}

// gemm(a, b, c, batch, m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC, bias | null)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const char* kn = "gemm";
  size_t la = 0, lb = 0, lc = 0, lbias = 0;
  gemm::Args g{};
  g.a = f32_arg(info, 0, kn, &la);
  g.b = f32_arg(info, 1, kn, &lb);
  g.c = f32_arg(info, 2, kn, &lc);
  g.batch = int_arg(info, 3);
  g.m = int_arg(info, 4);
  g.n = int_arg(info, 5);
  g.k = int_arg(info, 6);
  g.transA = bool_arg(info, 7);
  g.transB = bool_arg(info, 8);
  g.alpha = static_cast<float>(num_arg(info, 9));
  g.beta = static_cast<float>(num_arg(info, 10));
  g.strideA = int_arg(info, 11);
  g.strideB = int_arg(info, 12);
  g.strideC = int_arg(info, 13);
  g.bias = nullptr;
  if (!info[14].IsNull() && !info[14].IsUndefined()) g.bias = f32_arg(info, 14, kn, &lbias);
  if (g.batch < 0 || g.m < 0 || g.n < 0 || g.k < 0) throw Napi::RangeError::New(info.Env(), "gemm: batch, m, n and k must be >= 0");
  if (g.batch > 0 && g.m > 0 && g.n > 0) {
    if (g.k > 0) {
      check_len(info, "a", la, g.batch, g.strideA, g.m * g.k);
      check_len(info, "b", lb, g.batch, g.strideB, g.k * g.n);
    }
    check_len(info, "c", lc, g.batch, g.strideC, g.m * g.n);
    if (g.bias && static_cast<int64_t>(lbias) < g.n) throw Napi::RangeError::New(info.Env(), "gemm: bias is shorter than n");
  }
  gemm::run(g);
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(gemm, r1ts::Gemm)
