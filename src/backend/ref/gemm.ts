// Reference GEMM: the plain triple loop with a double-precision accumulator.
// The executable spec of Kernels.gemm; the native kernel is tested against it.

import type { F32, GemmParams } from '../kernels.ts';

export function gemm(a: F32, b: F32, c: F32, p: GemmParams): void {
  const { batch, m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC, bias } = p;
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * strideA, bo = bi * strideB, co = bi * strideC;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) {
          const av = transA ? a[ao + l * m + i] : a[ao + i * k + l];
          const bv = transB ? b[bo + j * k + l] : b[bo + l * n + j];
          acc += av * bv;
        }
        let r = alpha * acc;
        if (beta !== 0) r += beta * c[co + i * n + j];
        if (bias) r += bias[j];
        c[co + i * n + j] = r;
      }
    }
  }
}
