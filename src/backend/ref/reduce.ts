// Reference reductions, softmax family and top-k.

import type { F32, I32, ReduceOp } from '../kernels.ts';

export function reduce(op: ReduceOp, x: F32, out: F32, outer: number, r: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let acc = op === 'sum' ? 0 : -Infinity;
      for (let i = 0; i < r; i++) {
        const v = x[(o * r + i) * inner + j];
        if (op === 'sum') acc += v;
        else if (v > acc || Number.isNaN(v)) acc = v;
      }
      out[o * inner + j] = acc;
    }
  }
}

function rowMaxLse(x: F32, off: number, cols: number): [number, number] {
  let mx = -Infinity;
  for (let j = 0; j < cols; j++) if (x[off + j] > mx) mx = x[off + j];
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(x[off + j] - mx);
  return [mx, mx + Math.log(s)];
}

export function softmax(x: F32, out: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const [, lse] = rowMaxLse(x, off, cols);
    for (let j = 0; j < cols; j++) out[off + j] = Math.exp(x[off + j] - lse);
  }
}

export function logSoftmax(x: F32, out: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const [, lse] = rowMaxLse(x, off, cols);
    for (let j = 0; j < cols; j++) out[off + j] = x[off + j] - lse;
  }
}

export function softmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[off + j] * y[off + j];
    for (let j = 0; j < cols; j++) dx[off + j] = y[off + j] * (dy[off + j] - dot);
  }
}

export function logSoftmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += dy[off + j];
    for (let j = 0; j < cols; j++) dx[off + j] = dy[off + j] - Math.exp(y[off + j]) * s;
  }
}

export function topk(x: F32, values: F32, indices: I32, rows: number, cols: number, k: number): void {
  const order = new Array<number>(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let j = 0; j < cols; j++) order[j] = j;
    order.sort((p, q) => (x[off + q] - x[off + p]) || p - q);
    for (let j = 0; j < k; j++) {
      values[r * k + j] = x[off + order[j]];
      indices[r * k + j] = order[j];
    }
  }
}
