// Native-only entry points of the fused training ops (src/tensor/fused.ts), outside the Kernels
// contract: each is null when the addon lacks it, and the caller then composes the same result
// from contract kernels. Not here: shape checks (the caller's) or any kernel the reference or
// WebGPU backends must mirror.

import type { F32 } from '../kernels.ts';
import { addonFn } from './addon.ts';

/** dx = res + rmsnorm backward's dx (native/kernels/norm.cc); dw [cols] overwritten. */
export const rmsnormBackwardAddNative = addonFn<(x: F32, w: F32, rstd: F32, dy: F32, res: F32, dx: F32, dw: F32, rows: number, cols: number) => void>('rmsnormBackwardAdd');
