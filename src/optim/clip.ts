// Global gradient-norm clipping: the L2 norm over all gradients (accumulated in
// double precision), and a uniform rescale when it exceeds maxNorm. The *Tensor
// variants keep the norm on the gradients' device (webgpu: f32, no readback; the
// rescale factor is computed there too) and return it as a scalar tensor; there the
// squares of all gradients are summed by one partial pass per gradient, per stack of them (the
// MoE experts') or per pack (the gradients of parameters the optimizer packed are first gathered
// into packs of the same layout: gatherDeviceGrads) and one total, and the rescale is in place,
// like the host's.

import { deviceNormMany, deviceScaleManyInPlace, gatherDeviceGrads, scaleInPlace, sumSquares, tensor, type Tensor } from '../tensor/index.ts';

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

/** The parameters' gradients, those of packed parameters first gathered into packs alike (the same values; .grad changes). */
function gatheredGrads(params: readonly Tensor[]): Tensor[] {
  gatherDeviceGrads(params);
  return params.flatMap((p) => (p.grad ? [p.grad] : []));
}

/** The global gradient norm as a scalar tensor on the gradients' device (no readback on webgpu). */
export function gradNormTensor(params: readonly Tensor[]): Tensor {
  const grads = gatheredGrads(params);
  if (!grads.some((g) => g.gpu)) return tensor([gradNorm(params)], []);
  return deviceNormMany(grads).norm; // []
}

/**
 * clipGradNorm on the gradients' device: the factor min(1, maxNorm / (norm + 1e-6)) (1 when
 * norm <= maxNorm) is computed there, with the norm (one dispatch after the partial sums), and
 * every gradient is rescaled by it, with no readback. Returns the norm before clipping as a
 * scalar tensor. Host gradients take clipGradNorm's path.
 */
export function clipGradNormTensor(params: readonly Tensor[], maxNorm: number): Tensor {
  if (!params.some((p) => p.grad?.gpu)) return tensor([clipGradNorm(params, maxNorm)], []);
  const grads = gatheredGrads(params);
  const { norm, factor } = deviceNormMany(grads, maxNorm); // [], []
  deviceScaleManyInPlace(grads, factor!); // in place, as the host's clipGradNorm
  return norm;
}
