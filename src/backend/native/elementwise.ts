// Thin wrappers over the native elementwise kernels (native/kernels/elementwise.cc,
// copy.cc): unary, broadcasting binary, strided copy. Ops travel as indices into
// unaryOps/binaryOps, checked once against the addon's own order (opNames);
// shapes and strides travel packed in one reused Float64Array, so a small call
// costs no allocation. Not here: validation of shapes (src/tensor does that).

import { binaryOps, unaryOps } from '../kernels.ts';
import type { BinaryOp, F32, I32, Kernels, UnaryOp } from '../kernels.ts';
import { addonFn } from './addon.ts';

type UnaryFn = (op: number, x: F32, out: F32, n: number) => void;
type BinaryFn = (op: number, a: F32, b: F32, out: F32, meta: Float64Array) => void;
type CopyFn = (src: F32 | I32, dst: F32 | I32, meta: Float64Array) => void;

const opNamesN = addonFn<() => { unary: string[]; binary: string[] }>('opNames');
const unaryN = addonFn<UnaryFn>('unary');
const binaryN = addonFn<BinaryFn>('binary');
const copyN = addonFn<CopyFn>('copy');

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// The addon's op order must be kernels.ts's; a mismatch is a build/version skew, never silently wrong results.
const names = opNamesN?.();
if (names && (!sameList(names.unary, unaryOps) || !sameList(names.binary, binaryOps))) {
  throw new Error(`r1ts native addon: op order differs from src/backend/kernels.ts (addon unary ${names.unary.join(',')}; binary ${names.binary.join(',')}); rebuild the addon`);
}
const opsChecked = names !== undefined;

const unaryIndex = new Map<string, number>(unaryOps.map((o, i) => [o, i]));
const binaryIndex = new Map<string, number>(binaryOps.map((o, i) => [o, i]));

let meta = new Float64Array(64);
function metaFor(size: number): Float64Array {
  if (meta.length < size) meta = new Float64Array(size * 2);
  return meta;
}

export const elementwiseKernels: Partial<Pick<Kernels, 'unary' | 'binary' | 'copy'>> = {
  ...(unaryN && opsChecked && {
    unary: (op: UnaryOp, x: F32, out: F32, n: number) => unaryN(unaryIndex.get(op) ?? -1, x, out, n),
  }),
  ...(binaryN && opsChecked && {
    binary: (op: BinaryOp, a: F32, aStrides: readonly number[], b: F32, bStrides: readonly number[], out: F32, shape: readonly number[]) => {
      const r = shape.length;
      const m = metaFor(1 + 3 * r);
      m[0] = r;
      for (let d = 0; d < r; d++) {
        m[1 + d] = shape[d];
        m[1 + r + d] = aStrides[d];
        m[1 + 2 * r + d] = bStrides[d];
      }
      binaryN(binaryIndex.get(op) ?? -1, a, b, out, m);
    },
  }),
  ...(copyN && {
    copy: (src: F32 | I32, srcOffset: number, srcStrides: readonly number[], dst: F32 | I32, dstOffset: number, dstStrides: readonly number[], shape: readonly number[]) => {
      const r = shape.length;
      const m = metaFor(3 + 3 * r);
      m[0] = r;
      m[1] = srcOffset;
      m[2] = dstOffset;
      for (let d = 0; d < r; d++) {
        m[3 + d] = shape[d];
        m[3 + r + d] = srcStrides[d];
        m[3 + 2 * r + d] = dstStrides[d];
      }
      copyN(src, dst, m);
    },
  }),
};
