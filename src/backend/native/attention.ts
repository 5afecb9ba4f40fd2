// Thin wrappers over the native attention kernels (native/kernels/attention.cc): the tiled,
// online-softmax forward and its backward. They only flatten AttentionParams into the addon's
// positional arguments; the addon checks array lengths and Hq % Hkv, and throws RangeError.
// Not here: shape validation of tensors (src/tensor) or any math (the reference is
// src/backend/ref/attention.ts).

import type { AttentionParams, F32, I32, Kernels } from '../kernels.ts';
import { addonFn } from './addon.ts';

type Dims = [B: number, Tq: number, Tk: number, Hq: number, Hkv: number, D: number, Dv: number, scale: number, causal: boolean, qOffset: number, qOffsets: I32 | null, kvLens: I32 | null];
type AttentionFn = (q: F32, k: F32, v: F32, out: F32, lse: F32, ...dims: Dims) => void;
type AttentionBackwardFn = (q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32, dq: F32, dk: F32, dv: F32, ...dims: Dims) => void;

const attentionN = addonFn<AttentionFn>('attention');
const attentionBackwardN = addonFn<AttentionBackwardFn>('attentionBackward');

function dims(p: AttentionParams): Dims {
  return [p.B, p.Tq, p.Tk, p.Hq, p.Hkv, p.D, p.Dv, p.scale, p.causal, p.qOffset, p.qOffsets, p.kvLens];
}

export const attentionKernels: Partial<Pick<Kernels, 'attention' | 'attentionBackward'>> = {
  ...(attentionN && {
    attention: (q: F32, k: F32, v: F32, out: F32, lse: F32, p: AttentionParams) => attentionN(q, k, v, out, lse, ...dims(p)),
  }),
  ...(attentionBackwardN && {
    attentionBackward: (q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32, dq: F32, dk: F32, dv: F32, p: AttentionParams) =>
      attentionBackwardN(q, k, v, out, lse, dout, dq, dk, dv, ...dims(p)),
  }),
};
