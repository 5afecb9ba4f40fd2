// Thin wrapper over the native GEMM (native/kernels/gemm.cc, engine in gemm-core.h):
// flattens GemmParams into the addon's positional arguments. Semantics: Kernels.gemm
// in src/backend/kernels.ts; the reference is src/backend/ref/gemm.ts.

import type { F32, GemmParams, Kernels } from '../kernels.ts';
import { addonFn } from './addon.ts';

type GemmFn = (
  a: F32, b: F32, c: F32, batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean,
  alpha: number, beta: number, strideA: number, strideB: number, strideC: number, bias: F32 | null,
) => void;

const gemmN = addonFn<GemmFn>('gemm');

export const gemmKernels: Partial<Pick<Kernels, 'gemm'>> = {
  ...(gemmN && {
    gemm: (a: F32, b: F32, c: F32, p: GemmParams) =>
      gemmN(a, b, c, p.batch, p.m, p.n, p.k, p.transA, p.transB, p.alpha, p.beta, p.strideA, p.strideB, p.strideC, p.bias),
  }),
};
