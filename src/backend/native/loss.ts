// Thin wrappers over the native cross-entropy kernels (native/kernels/loss.cc).
// Targets are validated natively (RangeError naming the bad target and row).

import type { F32, I32, Kernels } from '../kernels.ts';
import { addonFn } from './addon.ts';

type CeFn = (logits: F32, targets: I32, loss: F32, lse: F32, rows: number, V: number, ignoreIndex: number) => void;
type CeBackFn = (logits: F32, targets: I32, lse: F32, dloss: F32, dlogits: F32, rows: number, V: number, ignoreIndex: number) => void;

const crossEntropyN = addonFn<CeFn>('crossEntropy');
const crossEntropyBackwardN = addonFn<CeBackFn>('crossEntropyBackward');

export const lossKernels: Partial<Pick<Kernels, 'crossEntropy' | 'crossEntropyBackward'>> = {
  ...(crossEntropyN && {
    crossEntropy: (logits: F32, targets: I32, loss: F32, lse: F32, rows: number, V: number, ignoreIndex: number) =>
      crossEntropyN(logits, targets, loss, lse, rows, V, ignoreIndex),
  }),
  ...(crossEntropyBackwardN && {
    crossEntropyBackward: (logits: F32, targets: I32, lse: F32, dloss: F32, dlogits: F32, rows: number, V: number, ignoreIndex: number) =>
      crossEntropyBackwardN(logits, targets, lse, dloss, dlogits, rows, V, ignoreIndex),
  }),
};
