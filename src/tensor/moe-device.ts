// The routed experts of a DeepSeekMoE layer on the webgpu device, dispatched sparsely: each
// expert's SwiGLU MLP runs over the rows of the tokens that chose it (src/backend/webgpu/moe.ts
// builds the plan on the device, gemm.ts's expert-range GEMMs run them), so the routed FLOPs
// are those of the host's grouped path (K per token), not the E per token of running every
// expert over every token. Dropless: no capacity, no token is ever skipped. Grouped (the
// default): each GEMM is one dispatch for all experts, over their weights stacked in one device
// slab per kind (stackOnDevice moves them there in place on first use; each stays its own Tensor,
// a view), the weight gradients written into a step slab whose views they are: 9 GEMM dispatches
// per layer instead of 9E, the same values bit for bit.
// One autograd node (the 'fused' kind: it carries its own backward), with the inputs of the
// host's moeExperts (fused.ts) in the same order — x, the dense routing weights [N, E], then
// every expert's w1, w2, w3 — so the layer's routing weights stay ordinary differentiable ops
// in moe.ts. The backward is gathers and expert-range GEMMs: each weight gradient is written
// once by one GEMM (an expert no token chose gets zeros; its AdamW step is gated on its load),
// each row has one source, each token K rows — no float atomics, deterministic.
// Not here: the selection (moe.ts selectMask), the kernels.

import { swiglu as kSwiglu, swigluBackward as kSwigluBackward } from '../backend/webgpu/elementwise.ts';
import { gemm as kGemm } from '../backend/webgpu/gemm.ts';
import {
  moeCombine, moeCombineBackwardRows, moeCombineBackwardWeights, moeGather, moeGatherSum, moePlanRows, moeRoute as kRoute, type MoePlanBuffers,
} from '../backend/webgpu/moe.ts';
import type { GpuTensor } from '../backend/webgpu/tensor.ts';
import { AutogradError, ShapeError, fmtShape } from '../core/errors.ts';
import { isGradEnabled, record } from './autograd.ts';
import { allocStep, allocStepStack, deviceContext, deviceStackOf, gpuHalfOf, gpuOf, retireStep, stackOnDevice, zerosStep, type DeviceStack } from './device.ts';
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

/** Which expert weight of a SwiGLU MLP. */
type WeightKind = 'w1' | 'w2' | 'w3';

/** The experts' weights stacked on the device, one stack per kind (stacking them first if need be), or null where they cannot be. */
function expertStacks(experts: readonly SwigluWeights[]): Record<WeightKind, DeviceStack> | null {
  const out = {} as Record<WeightKind, DeviceStack>;
  for (const kind of ['w1', 'w2', 'w3'] as const) {
    const ws = experts.map((m) => m[kind]);
    if (!stackOnDevice(ws)) return null;
    out[kind] = deviceStackOf(ws)!;
  }
  return out;
}

/**
 * y [N, C] = Σ over each token's K experts of w[n, e] · expert_e(x[n]) (SwiGLU MLPs, no bias), on
 * the device, by the plan of `routing`. w [N, E]: the routing weights (zero off the plan's experts).
 * grouped: each GEMM runs for every expert in one dispatch, over the experts' weights stacked in
 * one slab (stackOnDevice moves them there, in place, the first time); without it, or where they
 * cannot be stacked (host weights, a slab over the binding limit), one dispatch per expert.
 */
export function moeExpertsOnDevice(x: Tensor, w: Tensor, routing: DeviceRouting, experts: readonly SwigluWeights[], opts: { grouped?: boolean } = {}): Tensor {
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
  const stacks = opts.grouped ? expertStacks(experts) : null;
  const { ranges } = plan;
  const base = { batch: 1, alpha: 1, strideA: 0, strideB: 0, strideC: 0, bias: null } as const;
  // C (+)= A·op(W_e) over each expert e's rows: W one of the experts' weights (f32 or f16).
  const rowsGemm = (a: GpuTensor, kind: WeightKind, c: GpuTensor, p: { n: number; k: number; transB: boolean; beta?: number }) => {
    const dims = { ...base, m: rows, n: p.n, k: p.k, transA: false, transB: p.transB, beta: p.beta ?? 0, bHalf: experts[0][kind].half };
    if (stacks) {
      kGemm(ctx, a, stacks[kind].whole, c, { ...dims, strideB: stacks[kind].stride, range: { ranges, on: 'rows', experts: E, maxRows: rows } });
      return;
    }
    for (let e = 0; e < E; e++) {
      const t = experts[e][kind];
      kGemm(ctx, a, t.half ? gpuHalfOf(t) : gpuOf(t), c, { ...dims, bHalf: t.half, range: { ranges, on: 'rows', expert: e, maxRows: N } });
    }
  };
  // Each expert's weight gradient [m, n] = aᵀ·b summed over its rows, for the experts in `need`:
  // one GEMM per expert, or one for all into a step slab (the gradients are its views).
  const gradGemm = (a: GpuTensor, b: GpuTensor, m: number, n: number, need: (e: number) => boolean): (Tensor | null)[] => {
    const out: (Tensor | null)[] = Array.from({ length: E }, () => null);
    if (!out.some((_, e) => need(e))) return out;
    const dims = { ...base, m, n, k: rows, transA: true, transB: false, beta: 0 };
    if (stacks) {
      const { views, stack } = allocStepStack(E, [m, n]);
      kGemm(ctx, a, b, stack.whole, { ...dims, batch: E, strideC: stack.stride, range: { ranges, on: 'k', experts: E } });
      views.forEach((v, e) => { if (need(e)) out[e] = new Tensor(v, [m, n]); else retireStep(v); });
      return out;
    }
    for (let e = 0; e < E; e++) {
      if (!need(e)) continue;
      out[e] = empty([m, n]);
      kGemm(ctx, a, b, out[e]!.gpu!, { ...dims, range: { ranges, on: 'k', expert: e } });
    }
    return out;
  };

  // Forward: gather → h1 = xg·W1ᵀ, h3 = xg·W3ᵀ (per expert) → act = silu(h1)·h3 → yg = act·W2ᵀ → combine.
  const xg = allocStep([rows, C]);
  moeGather(ctx, gpuOf(x), plan.rowToken, xg, N, rows, C);
  // Rows past the last expert's range are written by no GEMM: zeros keep act there finite.
  const h1 = zerosStep([rows, I]), h3 = zerosStep([rows, I]), act = allocStep([rows, I]), yg = allocStep([rows, C]);
  rowsGemm(xg, 'w1', h1, { n: I, k: C, transB: true });
  rowsGemm(xg, 'w3', h3, { n: I, k: C, transB: true });
  kSwiglu(ctx, h1, h3, act, rows * I);
  rowsGemm(act, 'w2', yg, { n: C, k: I, transB: true });
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
    rowsGemm(dyg, 'w2', da, { n: I, k: C, transB: false });
    gradGemm(dyg, act, C, I, (e) => needs[2 + E + e]).forEach((t, e) => { grads[2 + E + e] = t; });
    const dh1 = allocStep([rows, I]), dh3 = allocStep([rows, I]);
    kSwigluBackward(ctx, h1, h3, da, dh1, dh3, rows * I);
    // dxg = dh1·W1 + dh3·W3 per expert; dW1_e = dh1ᵀ·xg, dW3_e = dh3ᵀ·xg over e's rows.
    const dxg = needs[0] ? allocStep([rows, C]) : null;
    if (dxg) {
      rowsGemm(dh1, 'w1', dxg, { n: C, k: I, transB: false });
      rowsGemm(dh3, 'w3', dxg, { n: C, k: I, transB: false, beta: 1 });
    }
    gradGemm(dh1, xg, I, C, (e) => needs[2 + e]).forEach((t, e) => { grads[2 + e] = t; });
    gradGemm(dh3, xg, I, C, (e) => needs[2 + 2 * E + e]).forEach((t, e) => { grads[2 + 2 * E + e] = t; });
    if (dxg) {
      grads[0] = empty([N, C]);
      moeGatherSum(ctx, dxg, plan.rowOf, grads[0].gpu!, N, K, rows, C);
    }
    for (const t of [...saved, ...planBufs, dyg, da, dh1, dh3, ...(dxg ? [dxg] : [])]) retireStep(t);
    return grads;
  };
  return record('fused', out, inputs, { name: op, backward });
}
