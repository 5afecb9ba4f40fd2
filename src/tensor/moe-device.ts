// The routed experts of a DeepSeekMoE layer on the webgpu device, dispatched sparsely: each
// expert's SwiGLU MLP runs over the rows of the tokens that chose it (src/backend/webgpu/moe.ts
// builds the plan on the device, gemm.ts's expert-range GEMMs run one expert each), so the
// routed FLOPs are those of the host's grouped path (K per token), not the E per token of
// running every expert over every token. Dropless: no capacity, no token is ever skipped.
// One autograd node (the 'fused' kind: it carries its own backward), with the inputs of the
// host's moeExperts (fused.ts) in the same order — x, the dense routing weights [N, E], then
// every expert's w1, w2, w3 — so the layer's routing weights stay ordinary differentiable ops
// in moe.ts. The backward is gathers and expert-range GEMMs: each weight gradient is written
// once by one GEMM (an expert no token chose gets zeros; its AdamW step is gated on its load),
// each row has one source, each token K rows — no float atomics, deterministic.
// Not here: the selection (moe.ts selectMask), the kernels.

import { swiglu as kSwiglu, swigluBackward as kSwigluBackward } from '../backend/webgpu/elementwise.ts';
import { gemm as kGemm, type GpuGemmParams } from '../backend/webgpu/gemm.ts';
import {
  moeCombine, moeCombineBackwardRows, moeCombineBackwardWeights, moeGather, moeGatherSum, moePlanRows, moeRoute as kRoute, type MoePlanBuffers,
} from '../backend/webgpu/moe.ts';
import type { GpuTensor } from '../backend/webgpu/tensor.ts';
import { AutogradError, ShapeError, fmtShape } from '../core/errors.ts';
import { isGradEnabled, record } from './autograd.ts';
import { allocStep, deviceContext, gpuHalfOf, gpuOf, retireStep, zerosStep } from './device.ts';
import { empty } from './device-ops.ts';
import { checkOutput } from './ops.ts';
import type { SwigluWeights } from './fused.ts';
import { Tensor } from './tensor.ts';

/** A routing plan on the device (moe.ts of the backend): which rows each expert owns. */
export interface DeviceRouting {
  /** [N, E] 0/1 (no gradient): the routing mask the plan follows (each token's first K marked experts). */
  readonly keep: Tensor;
  readonly N: number;
  readonly E: number;
  readonly K: number;
  /** Rows of the expert-sorted matrices (the host-known bound). */
  readonly rows: number;
  readonly plan: MoePlanBuffers;
}

/** Builds the routing plan from a 0/1 mask [N, E] (a device tensor) for K experts per token. */
export function routeOnDevice(mask: Tensor, K: number): DeviceRouting {
  if (mask.rank !== 2) throw new ShapeError(`routeOnDevice: the mask must be [N, E], got ${fmtShape(mask.shape)}`);
  const [N, E] = mask.shape;
  const rows = moePlanRows(N, E, K);
  const plan: MoePlanBuffers = {
    keep: allocStep([N, E]), rowToken: allocStep([rows], 'i32'), ranges: allocStep([E, 2], 'i32'),
    rowOf: allocStep([N, K], 'i32'), rowAt: allocStep([N, E], 'i32'),
  };
  kRoute(deviceContext('routeOnDevice'), gpuOf(mask), plan, N, E, K);
  return { keep: new Tensor(plan.keep, [N, E]), N, E, K, rows, plan };
}

/**
 * y [N, C] = Σ over each token's K experts of w[n, e] · expert_e(x[n]) (SwiGLU MLPs, no bias), on
 * the device, by the plan of `routing`. w [N, E]: the routing weights (zero off the plan's experts).
 */
export function moeExpertsOnDevice(x: Tensor, w: Tensor, routing: DeviceRouting, experts: readonly SwigluWeights[]): Tensor {
  const op = 'moeExpertsOnDevice';
  const { N, E, K, rows, plan } = routing;
  if (x.rank !== 2 || x.shape[0] !== N) throw new ShapeError(`${op}: x must be [${N}, C], got ${fmtShape(x.shape)}`);
  if (w.rank !== 2 || w.shape[0] !== N || w.shape[1] !== E) throw new ShapeError(`${op}: weights must be [${N}, ${E}], got ${fmtShape(w.shape)}`);
  if (experts.length !== E) throw new ShapeError(`${op}: ${experts.length} experts for a plan over ${E}`);
  const C = x.shape[1], I = experts[0].w1.shape[0];
  experts.forEach((m, e) => {
    for (const [name, t, want] of [['w1', m.w1, [I, C]], ['w2', m.w2, [C, I]], ['w3', m.w3, [I, C]]] as const) {
      if (t.rank !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) throw new ShapeError(`${op}: experts[${e}].${name} must be ${fmtShape(want)}, got ${fmtShape(t.shape)}`);
    }
  });
  const ctx = deviceContext(op);
  const weight = (t: Tensor) => (t.half ? gpuHalfOf(t) : gpuOf(t));
  const { ranges } = plan;
  // One expert's GEMM over its rows (`on: 'rows'`) or summed over its rows (`on: 'k'`).
  const expertGemm = (a: GpuTensor, b: Tensor | GpuTensor, c: GpuTensor, e: number, p: { m: number; n: number; k: number; transA: boolean; transB: boolean; beta?: number; on: 'rows' | 'k' }) => {
    const half = b instanceof Tensor && b.half;
    const params: GpuGemmParams = {
      batch: 1, m: p.m, n: p.n, k: p.k, transA: p.transA, transB: p.transB, alpha: 1, beta: p.beta ?? 0, strideA: 0, strideB: 0, strideC: 0, bias: null,
      bHalf: half, range: { ranges, expert: e, on: p.on, maxRows: N },
    };
    kGemm(ctx, a, b instanceof Tensor ? weight(b) : b, c, params);
  };

  // Forward: gather → h1 = xg·W1ᵀ, h3 = xg·W3ᵀ (per expert) → act = silu(h1)·h3 → yg = act·W2ᵀ → combine.
  const xg = allocStep([rows, C]);
  moeGather(ctx, gpuOf(x), plan.rowToken, xg, N, rows, C);
  // Rows past the last expert's range are written by no GEMM: zeros keep act there finite.
  const h1 = zerosStep([rows, I]), h3 = zerosStep([rows, I]), act = allocStep([rows, I]), yg = allocStep([rows, C]);
  for (let e = 0; e < E; e++) {
    expertGemm(xg, experts[e].w1, h1, e, { m: rows, n: I, k: C, transA: false, transB: true, on: 'rows' });
    expertGemm(xg, experts[e].w3, h3, e, { m: rows, n: I, k: C, transA: false, transB: true, on: 'rows' });
  }
  kSwiglu(ctx, h1, h3, act, rows * I);
  for (let e = 0; e < E; e++) expertGemm(act, experts[e].w2, yg, e, { m: rows, n: C, k: I, transA: false, transB: true, on: 'rows' });
  const out = empty([N, C]);
  const wd = gpuOf(w);
  moeCombine(ctx, yg, wd, plan.rowOf, ranges, out.gpu!, N, E, K, rows, C);
  checkOutput(op, out, [x, w]); // the NaN check mode, as for every op

  const saved = [xg, h1, h3, act, yg];
  const planBufs = [plan.rowToken, plan.ranges, plan.rowOf, plan.rowAt];
  const inputs = [x, w, ...experts.map((m) => m.w1), ...experts.map((m) => m.w2), ...experts.map((m) => m.w3)];
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) {
    for (const g of [...saved, ...planBufs]) retireStep(g); // their readers are recorded: later outputs may reuse them
    return out;
  }
  let used = false;
  const backward = (g: Tensor, needs: boolean[]): (Tensor | null)[] => {
    if (used) throw new AutogradError(`backward: the '${op}' node released its activations in the first backward(); retainGraph is not supported through it`);
    used = true;
    const dy = gpuOf(g);
    const grads: (Tensor | null)[] = inputs.map(() => null);
    const dyg = allocStep([rows, C]);
    moeCombineBackwardRows(ctx, dy, wd, plan.rowToken, ranges, dyg, N, E, rows, C);
    if (needs[1]) {
      grads[1] = empty([N, E]);
      moeCombineBackwardWeights(ctx, dy, yg, plan.rowOf, ranges, grads[1].gpu!, N, E, K, rows, C);
    }
    // da = dyg·W2 per expert (rows past the ranges stay zero); dW2_e = dygᵀ·act over e's rows.
    const da = zerosStep([rows, I]);
    for (let e = 0; e < E; e++) {
      expertGemm(dyg, experts[e].w2, da, e, { m: rows, n: I, k: C, transA: false, transB: false, on: 'rows' });
      if (needs[2 + E + e]) {
        grads[2 + E + e] = empty([C, I]);
        expertGemm(dyg, act, grads[2 + E + e]!.gpu!, e, { m: C, n: I, k: rows, transA: true, transB: false, on: 'k' });
      }
    }
    const dh1 = allocStep([rows, I]), dh3 = allocStep([rows, I]);
    kSwigluBackward(ctx, h1, h3, da, dh1, dh3, rows * I);
    // dxg = dh1·W1 + dh3·W3 per expert; dW1_e = dh1ᵀ·xg, dW3_e = dh3ᵀ·xg over e's rows.
    const dxg = needs[0] ? allocStep([rows, C]) : null;
    for (let e = 0; e < E; e++) {
      if (dxg) {
        expertGemm(dh1, experts[e].w1, dxg, e, { m: rows, n: C, k: I, transA: false, transB: false, on: 'rows' });
        expertGemm(dh3, experts[e].w3, dxg, e, { m: rows, n: C, k: I, transA: false, transB: false, beta: 1, on: 'rows' });
      }
      if (needs[2 + e]) {
        grads[2 + e] = empty([I, C]);
        expertGemm(dh1, xg, grads[2 + e]!.gpu!, e, { m: I, n: C, k: rows, transA: true, transB: false, on: 'k' });
      }
      if (needs[2 + 2 * E + e]) {
        grads[2 + 2 * E + e] = empty([I, C]);
        expertGemm(dh3, xg, grads[2 + 2 * E + e]!.gpu!, e, { m: I, n: C, k: rows, transA: true, transB: false, on: 'k' });
      }
    }
    if (dxg) {
      grads[0] = empty([N, C]);
      moeGatherSum(ctx, dxg, plan.rowOf, grads[0].gpu!, N, K, rows, C);
    }
    for (const t of [...saved, ...planBufs, dyg, da, dh1, dh3, ...(dxg ? [dxg] : [])]) retireStep(t);
    return grads;
  };
  return record('fused', out, inputs, { name: op, backward });
}
