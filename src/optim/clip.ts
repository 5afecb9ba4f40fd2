// Global gradient-norm clipping: the L2 norm over all gradients (accumulated in
// double precision), and a uniform rescale when it exceeds maxNorm.

import { sumSquares, scaleInPlace, type Tensor } from '../tensor/index.ts';

/** The global L2 norm of the parameters' gradients. */
export function gradNorm(params: readonly Tensor[]): number {
  let s = 0;
  for (const p of params) if (p.grad) s += sumSquares(p.grad);
  return Math.sqrt(s);
}

/** Scales all gradients so their global norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  const norm = gradNorm(params);
  if (Number.isFinite(norm) && norm > maxNorm && norm > 0) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) if (p.grad) scaleInPlace(p.grad, s);
  }
  return norm;
}
