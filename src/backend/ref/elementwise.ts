// Reference elementwise kernels: unary ops, broadcasting binary ops, strided copy.

import type { BinaryOp, F32, I32, UnaryOp } from '../kernels.ts';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function unaryFn(op: UnaryOp): (x: number) => number {
  switch (op) {
    case 'neg': return (x) => -x;
    case 'exp': return Math.exp;
    case 'log': return Math.log;
    case 'sqrt': return Math.sqrt;
    case 'rsqrt': return (x) => 1 / Math.sqrt(x);
    case 'abs': return Math.abs;
    case 'square': return (x) => x * x;
    case 'recip': return (x) => 1 / x;
    case 'tanh': return Math.tanh;
    case 'sigmoid': return (x) => 1 / (1 + Math.exp(-x));
    case 'silu': return (x) => x / (1 + Math.exp(-x));
    case 'relu': return (x) => (x > 0 ? x : 0);
    case 'gelu': return (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    default: return op satisfies never;
  }
}

export function binaryFn(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return (a, b) => a * b;
    case 'div': return (a, b) => a / b;
    case 'max': return (a, b) => (a > b || Number.isNaN(a) ? a : b);
    case 'min': return (a, b) => (a < b || Number.isNaN(a) ? a : b);
    case 'pow': return Math.pow;
    case 'eq': return (a, b) => (a === b ? 1 : 0);
    case 'gt': return (a, b) => (a > b ? 1 : 0);
    case 'ge': return (a, b) => (a >= b ? 1 : 0);
    default: return op satisfies never;
  }
}

export function unary(op: UnaryOp, x: F32, out: F32, n: number): void {
  const f = unaryFn(op);
  for (let i = 0; i < n; i++) out[i] = f(x[i]);
}

/** Visits every multi-index of shape in row-major order, calling fn with the two strided offsets. */
function forEachIndex(shape: readonly number[], sa: readonly number[], sb: readonly number[], oa: number, ob: number, fn: (i: number, ia: number, ib: number) => void): void {
  const rank = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  const idx = new Array<number>(rank).fill(0);
  let ia = oa, ib = ob;
  for (let i = 0; i < total; i++) {
    fn(i, ia, ib);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < shape[d]) break;
      ia -= sa[d] * shape[d];
      ib -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export function binary(op: BinaryOp, a: F32, aStrides: readonly number[], b: F32, bStrides: readonly number[], out: F32, shape: readonly number[]): void {
  const f = binaryFn(op);
  forEachIndex(shape, aStrides, bStrides, 0, 0, (i, ia, ib) => {
    out[i] = f(a[ia], b[ib]);
  });
}

export function copy(src: F32 | I32, srcOffset: number, srcStrides: readonly number[], dst: F32 | I32, dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  forEachIndex(shape, srcStrides, dstStrides, srcOffset, dstOffset, (_i, is, id) => {
    dst[id] = src[is];
  });
}
