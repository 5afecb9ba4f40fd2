// Thin wrappers over the native reductions, softmax family and top-k
// (native/kernels/reduce.cc, softmax.cc, topk.cc). Not here: validation of
// shapes (src/tensor does that).

import type { F32, I32, Kernels, ReduceOp } from '../kernels.ts';
import { addonFn } from './addon.ts';

type RowsFn = (x: F32, out: F32, rows: number, cols: number) => void;
type RowsBackFn = (y: F32, dy: F32, dx: F32, rows: number, cols: number) => void;

const reduceN = addonFn<(op: number, x: F32, out: F32, outer: number, r: number, inner: number) => void>('reduce');
const softmaxN = addonFn<RowsFn>('softmax');
const logSoftmaxN = addonFn<RowsFn>('logSoftmax');
const softmaxBackwardN = addonFn<RowsBackFn>('softmaxBackward');
const logSoftmaxBackwardN = addonFn<RowsBackFn>('logSoftmaxBackward');
const topkN = addonFn<(x: F32, values: F32, indices: I32, rows: number, cols: number, k: number) => void>('topk');

type ReduceKernels = Pick<Kernels, 'reduce' | 'softmax' | 'logSoftmax' | 'softmaxBackward' | 'logSoftmaxBackward' | 'topk'>;

export const reduceKernels: Partial<ReduceKernels> = {
  ...(reduceN && {
    reduce: (op: ReduceOp, x: F32, out: F32, outer: number, r: number, inner: number) => reduceN(op === 'sum' ? 0 : 1, x, out, outer, r, inner),
  }),
  ...(softmaxN && { softmax: (x: F32, out: F32, rows: number, cols: number) => softmaxN(x, out, rows, cols) }),
  ...(logSoftmaxN && { logSoftmax: (x: F32, out: F32, rows: number, cols: number) => logSoftmaxN(x, out, rows, cols) }),
  ...(softmaxBackwardN && {
    softmaxBackward: (y: F32, dy: F32, dx: F32, rows: number, cols: number) => softmaxBackwardN(y, dy, dx, rows, cols),
  }),
  ...(logSoftmaxBackwardN && {
    logSoftmaxBackward: (y: F32, dy: F32, dx: F32, rows: number, cols: number) => logSoftmaxBackwardN(y, dy, dx, rows, cols),
  }),
  ...(topkN && { topk: (x: F32, values: F32, indices: I32, rows: number, cols: number, k: number) => topkN(x, values, indices, rows, cols, k) }),
};
