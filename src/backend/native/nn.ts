// Thin wrappers over the native layer kernels (native/kernels/norm.cc, rope.cc,
// activation.cc, embedding.cc): RMSNorm, RoPE, SwiGLU/SiLU backward, embedding.
// Data-driven indices (positions, ids) are validated natively and throw RangeError.

import type { F32, I32, Kernels, RopeParams } from '../kernels.ts';
import { addonFn } from './addon.ts';

type RmsNormFn = (x: F32, w: F32, out: F32, rstd: F32, rows: number, cols: number, eps: number) => void;
type RmsNormBackFn = (x: F32, w: F32, rstd: F32, dy: F32, dx: F32, dw: F32, rows: number, cols: number) => void;
type RopeFn = (x: F32, out: F32, cos: F32, sin: F32, pos: I32, N: number, H: number, D: number, rotaryDim: number, interleaved: boolean, inverse: boolean) => void;

const rmsnormN = addonFn<RmsNormFn>('rmsnorm');
const rmsnormBackwardN = addonFn<RmsNormBackFn>('rmsnormBackward');
const ropeN = addonFn<RopeFn>('rope');
const swigluN = addonFn<(gate: F32, up: F32, out: F32, n: number) => void>('swiglu');
const swigluBackwardN = addonFn<(gate: F32, up: F32, dout: F32, dgate: F32, dup: F32, n: number) => void>('swigluBackward');
const siluBackwardN = addonFn<(x: F32, dy: F32, dx: F32, n: number) => void>('siluBackward');
const embeddingN = addonFn<(table: F32, ids: I32, out: F32, n: number, dim: number) => void>('embedding');
const embeddingBackwardN = addonFn<(ids: I32, dout: F32, dtable: F32, n: number, dim: number) => void>('embeddingBackward');

type NnKernels = Pick<Kernels, 'rmsnorm' | 'rmsnormBackward' | 'rope' | 'swiglu' | 'swigluBackward' | 'siluBackward' | 'embedding' | 'embeddingBackward'>;

export const nnKernels: Partial<NnKernels> = {
  ...(rmsnormN && {
    rmsnorm: (x: F32, w: F32, out: F32, rstd: F32, rows: number, cols: number, eps: number) => rmsnormN(x, w, out, rstd, rows, cols, eps),
  }),
  ...(rmsnormBackwardN && {
    rmsnormBackward: (x: F32, w: F32, rstd: F32, dy: F32, dx: F32, dw: F32, rows: number, cols: number) =>
      rmsnormBackwardN(x, w, rstd, dy, dx, dw, rows, cols),
  }),
  ...(ropeN && {
    rope: (x: F32, out: F32, cos: F32, sin: F32, pos: I32, p: RopeParams) =>
      ropeN(x, out, cos, sin, pos, p.N, p.H, p.D, p.rotaryDim, p.interleaved, p.inverse),
  }),
  ...(swigluN && { swiglu: (gate: F32, up: F32, out: F32, n: number) => swigluN(gate, up, out, n) }),
  ...(swigluBackwardN && {
    swigluBackward: (gate: F32, up: F32, dout: F32, dgate: F32, dup: F32, n: number) => swigluBackwardN(gate, up, dout, dgate, dup, n),
  }),
  ...(siluBackwardN && { siluBackward: (x: F32, dy: F32, dx: F32, n: number) => siluBackwardN(x, dy, dx, n) }),
  ...(embeddingN && { embedding: (table: F32, ids: I32, out: F32, n: number, dim: number) => embeddingN(table, ids, out, n, dim) }),
  ...(embeddingBackwardN && {
    embeddingBackward: (ids: I32, dout: F32, dtable: F32, n: number, dim: number) => embeddingBackwardN(ids, dout, dtable, n, dim),
  }),
};
