// Thin wrappers over the native optimizer kernels (native/kernels/optim.cc).

import type { AdamWParams, F32, Kernels } from '../kernels.ts';
import { addonFn } from './addon.ts';

type AdamWFn = (p: F32, g: F32, m: F32, v: F32, n: number, lr: number, b1: number, b2: number, eps: number, wd: number, step: number) => void;

const adamwN = addonFn<AdamWFn>('adamw');
const sumSquaresN = addonFn<(x: F32, n: number) => number>('sumSquares');
const scaleN = addonFn<(x: F32, n: number, s: number) => void>('scale');

export const optimKernels: Partial<Pick<Kernels, 'adamw' | 'sumSquares' | 'scale'>> = {
  ...(adamwN && {
    adamw: (param: F32, grad: F32, m: F32, v: F32, n: number, p: AdamWParams) =>
      adamwN(param, grad, m, v, n, p.lr, p.beta1, p.beta2, p.eps, p.weightDecay, p.step),
  }),
  ...(sumSquaresN && { sumSquares: (x: F32, n: number) => sumSquaresN(x, n) }),
  ...(scaleN && { scale: (x: F32, n: number, s: number) => scaleN(x, n, s) }),
};
