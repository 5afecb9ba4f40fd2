// The webgpu halves of the op frontends in ops.ts: when an input lives on the device,
// ops.ts validates shapes exactly as for the host, then calls the function here, which
// records the device kernel (src/backend/webgpu) into the context's current batch and
// returns an unrecorded output whose storage comes from the step arena (device.ts).
// Nothing here reads values back; host inputs (ids, positions, tables, scalars) are
// uploaded. Saved values for backward (rstd, lse) stay on the device.
// Not here: validation and autograd recording (ops.ts), transfers (device.ts).

import type { AttentionParams, BinaryOp, GemmParams, ReduceOp, RopeParams, UnaryOp } from '../backend/kernels.ts';
import { attention as kAttention, attentionBackward as kAttentionBackward } from '../backend/webgpu/attention.ts';
import { copyWithin as kCopyWithin, writeRows as kWriteRows } from '../backend/webgpu/cache.ts';
import {
  adamw as kAdamw, binary as kBinary, checkFinite as kCheckFinite, copy as kCopy, scale as kScale, scaleBy as kScaleBy, siluBackward as kSiluBackward, sumAll as kSumAll, sumNorm as kSumNorm, sumSquares as kSumSquares,
  sumSquaresPartCount, sumSquaresParts as kSumSquaresParts, swiglu as kSwiglu, swigluBackward as kSwigluBackward, unary as kUnary,
} from '../backend/webgpu/elementwise.ts';
import { gemm as kGemm } from '../backend/webgpu/gemm.ts';
import { embedding as kEmbedding, embeddingBackward as kEmbeddingBackward, rope as kRope } from '../backend/webgpu/nn.ts';
import {
  crossEntropy as kCrossEntropy, crossEntropyBackward as kCrossEntropyBackward, logSoftmax as kLogSoftmax, logSoftmaxBackward as kLogSoftmaxBackward,
  reduce as kReduce, rmsnorm as kRmsnorm, rmsnormBackward as kRmsnormBackward, SAMPLE_GREEDY, SAMPLE_MIN_P, SAMPLE_PARAMS, SAMPLE_PLAIN, SAMPLE_SORTED, sampleRows as kSampleRows, softmax as kSoftmax, tokenLse as kTokenLse, softmaxBackward as kSoftmaxBackward, topk as kTopk,
} from '../backend/webgpu/rows.ts';
import type { GpuTensor } from '../backend/webgpu/tensor.ts';
import { R1tsError, fmtShape } from '../core/errors.ts';
import { allocStep, deviceContext, devicePackOf, deviceStackOf, gatherPackStep, gpuHalfOf, gpuOf, groupStacks, packOnDevice, packRuns, retireStep, samePackLayout, stackOnDevice, uploadStep, zerosStep } from './device.ts';
import { noteBorn } from './ops.ts';
import { Tensor } from './tensor.ts';

/** True when any of the tensors lives on the device (then the op runs there). */
export function onDevice(...ts: (Tensor | null | undefined)[]): boolean {
  for (const t of ts) if (t && t.gpu !== null) return true;
  return false;
}

/** The error of an op with no device kernel (never a silent host round-trip). */
export function noDeviceKernel(op: string): R1tsError {
  return new R1tsError(`${op}: no webgpu kernel for this op yet (an input lives on the webgpu device); move the tensors to the host first (await toHost(t))`);
}

const ctx = () => deviceContext();

// Op outputs are born in the active activation scope (ops.ts ephemeralScope), so backward may retire them early.
function out(shape: readonly number[], dtype: 'f32' | 'i32' = 'f32'): Tensor {
  const g = allocStep(shape, dtype);
  noteBorn(g);
  return new Tensor(g, shape);
}

function zerosOut(shape: readonly number[]): Tensor {
  const g = zerosStep(shape);
  noteBorn(g);
  return new Tensor(g, shape);
}

const g = gpuOf;

/** The NaN check mode: checks out on the device; the next readback throws a NonFiniteError naming `op` if it holds NaN or ±Infinity. */
export function checkFinite(op: string, out: Tensor, inputs: readonly Tensor[]): void {
  if (out.dtype !== 'f32' || out.size === 0 || !out.gpu) return;
  const c = ctx();
  const ins = inputs.map((t) => fmtShape(t.shape)).join(', ');
  kCheckFinite(c, out.gpu, out.size, c.checkLabel(op, ` of its output ${fmtShape(out.shape)} (inputs ${ins || 'none'})`));
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const o = out(x.shape);
  kUnary(ctx(), op, g(x), o.gpu!, x.size);
  return o;
}

export function binary(op: BinaryOp, a: Tensor, aStrides: readonly number[], b: Tensor, bStrides: readonly number[], shape: readonly number[]): Tensor {
  const o = out(shape);
  kBinary(ctx(), op, g(a), aStrides, g(b), bStrides, o.gpu!, shape);
  return o;
}

/** One reduction step over the middle axis of [outer, r, inner] (f32). */
export function reduce(op: ReduceOp, x: GpuTensor, outer: number, r: number, inner: number): GpuTensor {
  const o = allocStep([outer * inner]);
  kReduce(ctx(), op, x, o, outer, r, inner);
  return o;
}

export function copyAll(x: Tensor): Tensor {
  const o = out(x.shape, x.dtype);
  ctx().copy(g(x), o.gpu!);
  return o;
}

/** A strided copy into dst (f32 or i32). */
export function copyInto(src: Tensor, srcOffset: number, srcStrides: readonly number[], dst: Tensor, dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  kCopy(ctx(), g(src), srcOffset, srcStrides, dst.gpu!, dstOffset, dstStrides, shape);
}

export function empty(shape: readonly number[], dtype: 'f32' | 'i32' = 'f32'): Tensor {
  return out(shape, dtype);
}

export function zeros(shape: readonly number[]): Tensor {
  return zerosOut(shape);
}

/** C = op(A)·op(B) (+ bias); a B stored as f16 (an inference weight, Tensor.half) goes through the f16-weight GEMM. */
export function gemm(a: Tensor, b: Tensor, c: Tensor, p: Omit<GemmParams, 'bias'>, bias: Tensor | null): void {
  kGemm(ctx(), g(a), b.half ? gpuHalfOf(b) : g(b), c.gpu!, { ...p, bias: bias ? g(bias) : null, bHalf: b.half });
}

export function softmax(kind: 'softmax' | 'logSoftmax', x: Tensor, rows: number, cols: number): Tensor {
  const o = out(x.shape);
  (kind === 'softmax' ? kSoftmax : kLogSoftmax)(ctx(), g(x), o.gpu!, rows, cols);
  return o;
}

export function softmaxBackward(kind: 'softmax' | 'logSoftmax', y: Tensor, dy: Tensor, rows: number, cols: number): Tensor {
  const o = out(y.shape);
  (kind === 'softmax' ? kSoftmaxBackward : kLogSoftmaxBackward)(ctx(), g(y), g(dy), o.gpu!, rows, cols);
  return o;
}

export function rmsnorm(x: Tensor, w: Tensor, rows: number, cols: number, eps: number): { out: Tensor; rstd: GpuTensor } {
  const o = out(x.shape);
  const rstd = allocStep([rows]);
  kRmsnorm(ctx(), g(x), g(w), o.gpu!, rstd, rows, cols, eps);
  return { out: o, rstd };
}

export function rmsnormBackward(x: Tensor, w: Tensor, rstd: GpuTensor | Float32Array, dy: Tensor, rows: number, cols: number): [Tensor, Tensor] {
  const dx = out(x.shape), dw = out(w.shape);
  const r = rstd instanceof Float32Array ? ctx().upload(rstd) : rstd;
  kRmsnormBackward(ctx(), g(x), g(w), r, g(dy), dx.gpu!, dw.gpu!, rows, cols);
  if (r !== rstd) ctx().release(r);
  return [dx, dw];
}

export function rope(x: Tensor, cos: Tensor, sin: Tensor, pos: Tensor, p: RopeParams): Tensor {
  const o = out(x.shape);
  kRope(ctx(), g(x), o.gpu!, g(cos), g(sin), g(pos), p);
  return o;
}

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const o = out(gate.shape);
  kSwiglu(ctx(), g(gate), g(up), o.gpu!, gate.size);
  return o;
}

export function swigluBackward(gate: Tensor, up: Tensor, dy: Tensor): [Tensor, Tensor] {
  const dg = out(gate.shape), du = out(up.shape);
  kSwigluBackward(ctx(), g(gate), g(up), g(dy), dg.gpu!, du.gpu!, gate.size);
  return [dg, du];
}

export function siluBackward(x: Tensor, dy: Tensor): Tensor {
  const o = out(x.shape);
  kSiluBackward(ctx(), g(x), g(dy), o.gpu!, x.size);
  return o;
}

export function embedding(table: Tensor, ids: Tensor, C: number): Tensor {
  const o = out([...ids.shape, C]);
  kEmbedding(ctx(), g(table), g(ids), o.gpu!, ids.size, C);
  return o;
}

/** Scatter-add of rows of dy at ids into zeros of `shape` ([rows, C]). */
export function embeddingBackward(shape: readonly number[], ids: Tensor, dy: Tensor): Tensor {
  const o = zerosOut(shape);
  kEmbeddingBackward(ctx(), g(ids), g(dy), o.gpu!, ids.size, shape[1]);
  return o;
}

function gpuAttn(p: AttentionParams) {
  const c = ctx();
  return { ...p, qOffsets: p.qOffsets ? c.upload(p.qOffsets) : null, kvLens: p.kvLens ? c.upload(p.kvLens) : null };
}

function freeAttn(p: { qOffsets: GpuTensor | null; kvLens: GpuTensor | null }): void {
  if (p.qOffsets) ctx().release(p.qOffsets);
  if (p.kvLens) ctx().release(p.kvLens);
}

export function attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): { out: Tensor; lse: GpuTensor } {
  const o = out([p.B, p.Tq, p.Hq, p.Dv]);
  const lse = allocStep([p.B * p.Hq * p.Tq]);
  const gp = gpuAttn(p);
  kAttention(ctx(), g(q), g(k), g(v), o.gpu!, lse, gp);
  freeAttn(gp);
  return { out: o, lse };
}

export function attentionBackward(q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: GpuTensor | Float32Array, dy: Tensor, p: AttentionParams): [Tensor, Tensor, Tensor] {
  const dq = out(q.shape), dk = out(k.shape), dv = out(v.shape);
  const c = ctx();
  const l = lse instanceof Float32Array ? c.upload(lse) : lse;
  const gp = gpuAttn(p);
  kAttentionBackward(c, g(q), g(k), g(v), g(o), l, g(dy), dq.gpu!, dk.gpu!, dv.gpu!, gp);
  freeAttn(gp);
  if (l !== lse) c.release(l);
  return [dq, dk, dv];
}

export function crossEntropy(logits: Tensor, targets: Tensor, rows: number, V: number, ignoreIndex: number): { loss: Tensor; lse: GpuTensor } {
  const loss = out(targets.shape);
  const lse = allocStep([rows]);
  kCrossEntropy(ctx(), g(logits), g(targets), loss.gpu!, lse, rows, V, ignoreIndex);
  return { loss, lse };
}

export function crossEntropyBackward(logits: Tensor, targets: Tensor, lse: GpuTensor | Float32Array, dy: Tensor, rows: number, V: number, ignoreIndex: number): Tensor {
  const o = out(logits.shape);
  const c = ctx();
  const l = lse instanceof Float32Array ? c.upload(lse) : lse;
  kCrossEntropyBackward(c, g(logits), g(targets), l, g(dy), o.gpu!, rows, V, ignoreIndex);
  if (l !== lse) c.release(l);
  return o;
}

/** Bytes of one chunk's [rows, V] logits in linearCrossEntropy (tests lower it to force several chunks). */
let lceChunkBytes = 64 << 20;
export function setLinearCrossEntropyChunkBytes(bytes: number): void {
  lceChunkBytes = bytes;
}

/**
 * crossEntropy(linear(x, w), targets) reduced to a scalar (× scale) on the device, in row chunks
 * whose [rows, V] logits stay under lceChunkBytes (so a large vocabulary fits the device's
 * binding limits; one chunk when it fits). dx, dw (for an upstream gradient of 1) are computed
 * chunk by chunk when wanted, dw accumulated by the GEMM's beta, as on the host.
 */
export function linearCrossEntropy(x: Tensor, w: Tensor, targets: Tensor, N: number, V: number, C: number, ignoreIndex: number, scale: number, needX: boolean, needW: boolean): { loss: Tensor; dx: Tensor | null; dw: Tensor | null } {
  const c = ctx();
  const gx = g(x), gw = g(w), gt = g(targets);
  const mm = { batch: 1, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null };
  const R = Math.max(1, Math.min(N, Math.floor(lceChunkBytes / Math.max(4 * V, 1))));
  const chunked = R < N;
  const logits = allocStep([R, V]); // [R, V]
  const rowsLoss = allocStep([N]), lse = allocStep([R]); // [N], [R]
  const want = needX || needW;
  const dl = want ? allocStep([R, V]) : null; // [R, V]
  const up = want ? uploadStep(new Float32Array(R).fill(scale)) : null; // [R] the per-row upstream gradient
  const dx = needX ? out(x.shape) : null; // [..., C]
  const dw = needW ? out(w.shape) : null; // [V, C]
  if (dw && N === 0) c.clear(dw.gpu!);
  // One chunk's rows of x and targets (copies when chunked) and its dx rows.
  const xc = chunked ? allocStep([R, C]) : gx; // [R, C]
  const tc = chunked ? allocStep([R], 'i32') : gt; // [R]
  const lc = chunked ? allocStep([R]) : rowsLoss; // [R]
  const dxc = chunked && dx ? allocStep([R, C]) : dx?.gpu ?? null; // [R, C]
  for (let r0 = 0; r0 < N; r0 += R) {
    const rows = Math.min(R, N - r0);
    if (chunked) {
      kCopy(c, gx, r0 * C, [1], xc, 0, [1], [rows * C]);
      kCopy(c, gt, r0, [1], tc, 0, [1], [rows]);
    }
    kGemm(c, xc, gw, logits, { ...mm, m: rows, n: V, k: C, transA: false, transB: true });
    kCrossEntropy(c, logits, tc, lc, lse, rows, V, ignoreIndex);
    if (chunked) kCopy(c, lc, 0, [1], rowsLoss, r0, [1], [rows]);
    if (!want) continue;
    kCrossEntropyBackward(c, logits, tc, lse, up!, dl!, rows, V, ignoreIndex);
    if (dx) {
      kGemm(c, dl!, gw, dxc!, { ...mm, m: rows, n: C, k: V, transA: false, transB: false });
      if (chunked) kCopy(c, dxc!, 0, [1], dx.gpu!, r0 * C, [1], [rows * C]);
    }
    if (dw) kGemm(c, dl!, xc, dw.gpu!, { ...mm, m: V, n: C, k: rows, transA: true, transB: false, beta: r0 === 0 ? 0 : 1 });
  }
  const loss = out([]); // []
  if (N === 0) c.clear(loss.gpu!);
  else kReduce(c, 'sum', rowsLoss, loss.gpu!, 1, N, 1);
  kScale(c, loss.gpu!, 1, scale);
  return { loss, dx, dw };
}

export function topk(x: Tensor, rows: number, cols: number, k: number, shape: readonly number[]): { values: Tensor; indices: Tensor } {
  const values = out(shape), indices = out(shape, 'i32');
  kTopk(ctx(), g(x), values.gpu!, indices.gpu!, rows, cols, k);
  return { values, indices };
}

/** Parameters whose device AdamW step is skipped when gate[index] == 0 (see gateUpdates). */
const updateGates = new WeakMap<Tensor, { gate: Tensor; index: number }>();

/**
 * From now on, AdamW on the device updates each of `params` only when gate[index] != 0 at the time
 * the update runs (gate: a persistent device tensor). The host skips a parameter that got no
 * gradient; the MoE's dense device dispatch gives an unrouted expert a zero gradient instead, and
 * gates its parameters by the expert's load (src/nn/moe.ts) so that it is skipped too.
 */
export function gateUpdates(params: readonly Tensor[], gate: Tensor, index: number): void {
  for (const p of params) updateGates.set(p, { gate, index });
}

export function adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): void {
  for (const [k, t] of [['parameter', param], ['m', m], ['v', v]] as const) {
    if (!t.gpu) throw new R1tsError(`adamw: the ${k} of ${param.name ?? 'a parameter'} is on the host while others are on the webgpu device; move the model and the optimizer state together`);
  }
  const gate = updateGates.get(param);
  kAdamw(ctx(), param.gpu!, g(grad), m.gpu!, v.gpu!, param.size, p, gate?.gate.gpu ? { t: gate.gate.gpu, index: gate.index } : null);
}

/**
 * The optimizer's parameters on the device into packs (device.ts packOnDevice), each as many
 * consecutive ones as fit one storage binding; parameters in a stack (the MoE experts') or gated
 * (gateUpdates) stay as they are. Once per training run: a no-op for parameters already packed.
 */
export function packParams(params: readonly Tensor[]): void {
  const free = params.filter((p) => !updateGates.has(p));
  for (const run of packRuns(free)) {
    const ts = run.map((i) => free[i]);
    if (run.length > 1) packOnDevice(ts);
  }
}

/**
 * The gradients of packed parameters gathered into step packs of the same layout (one copy each),
 * each parameter's .grad then the view of it: the gradient norm, its rescale and AdamW are one
 * dispatch per pack. A pack is gathered only when every one of its parameters is in params with a
 * device gradient (a parameter without one is skipped by AdamW); already gathered ones are left.
 * A gathered step gradient is retired (its buffer free for the rest of the step): read .grad
 * again after this, not a reference taken before.
 */
export function gatherGrads(params: readonly Tensor[]): void {
  for (const { at } of groupStacks(params).packs) {
    const ps = at.map((i) => params[i]);
    const gs = ps.map((p) => p.grad);
    if (!gs.every((g): g is Tensor => g !== null && g.gpu !== null)) continue;
    const whole = devicePackOf(gs);
    if (whole && samePackLayout(gs, ps)) continue;
    const packed = gatherPackStep(gs, ps);
    if (!packed) continue;
    ps.forEach((p, i) => (p.grad = packed[i]));
    for (const g of new Set(gs.map((x) => x.gpu!))) retireStep(g);
  }
}

/**
 * AdamW on many parameters in few dispatches: each pack of parameters (packParams) whose gradients
 * (gatherGrads) and moments (packed alike the first time) make packs of its layout, as one
 * tensor; each stack of parameters (views of one slab: the MoE experts' weights) whose gradients,
 * m and v are stacked alike (m and v are moved into slabs of their own the first time) and whose
 * gates are one gate's consecutive entries, in one dispatch; every other parameter in a dispatch
 * of its own. The values are those of adamw() on each, bit for bit (a pack's gaps are zero in all
 * four and stay zero).
 */
export function adamwMany(items: readonly { param: Tensor; grad: Tensor; m: Tensor; v: Tensor }[], p: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): void {
  const { stacks, packs, singles } = groupStacks(items.map((it) => it.param));
  for (const { at, whole } of packs) {
    const its = at.map((i) => items[i]);
    const ps = its.map((it) => it.param);
    const packed = (ts: Tensor[]) => (packOnDevice(ts) && samePackLayout(ts, ps) ? devicePackOf(ts) : null);
    const m = packed(its.map((it) => it.m)), v = packed(its.map((it) => it.v));
    const gs = its.map((it) => it.grad);
    const g = devicePackOf(gs);
    if (!g || !m || !v || !samePackLayout(gs, ps)) {
      singles.push(...at);
      continue;
    }
    kAdamw(ctx(), whole, g, m, v, whole.size, p, null);
  }
  for (const { at, stack } of stacks) {
    const its = at.map((i) => items[i]);
    const state = (ts: Tensor[]) => (stackOnDevice(ts) ? deviceStackOf(ts) : null);
    const gs = deviceStackOf(its.map((it) => it.grad)), m = state(its.map((it) => it.m)), v = state(its.map((it) => it.v));
    const gates = its.map((it) => updateGates.get(it.param));
    const g0 = gates[0];
    const gateOk = gates.every((x) => x === undefined) || (g0?.gate.gpu && gates.every((x, j) => x && x.gate === g0.gate && x.index === g0.index + j));
    if (!gs || !m || !v || !gateOk || gs.stride !== stack.stride || m.stride !== stack.stride || v.stride !== stack.stride) {
      singles.push(...at);
      continue;
    }
    kAdamw(ctx(), stack.whole, gs.whole, m.whole, v.whole, its.length * stack.stride, p, g0 ? { t: g0.gate.gpu!, index: g0.index } : null, { stride: stack.stride, size: its[0].param.size });
  }
  for (const i of singles) adamw(items[i].param, items[i].grad, items[i].m, items[i].v, p);
}

/**
 * Partial sums of x² for every tensor of ts (one partial pass per tensor, per stack or per pack of
 * them: groupStacks) in one step buffer, and how many; null when ts hold no element.
 */
function sumSquaresPartsMany(ts: readonly Tensor[]): { parts: GpuTensor; count: number } | null {
  const { stacks, packs, singles } = groupStacks(ts);
  const passes: { x: GpuTensor; n: number; span?: { stride: number; size: number } }[] = [
    ...packs.map(({ whole }) => ({ x: whole, n: whole.size })),
    ...stacks.map(({ at, stack }) => ({ x: stack.whole, n: at.length * stack.stride, span: { stride: stack.stride, size: ts[at[0]].size } })),
    ...singles.filter((i) => ts[i].size > 0).map((i) => ({ x: g(ts[i]), n: ts[i].size })),
  ];
  if (passes.length === 0) return null;
  const count = passes.reduce((a, q) => a + sumSquaresPartCount(q.n), 0);
  const parts = allocStep([count]);
  let at = 0;
  for (const q of passes) at += kSumSquaresParts(ctx(), q.x, q.n, parts, at, q.span);
  return { parts, count };
}

/** Σ over ts of Σ x² into one device scalar [] (f32): the partial passes (sumSquaresPartsMany), one total. */
export function sumSquaresMany(ts: readonly Tensor[]): Tensor {
  const o = out([]);
  const s = sumSquaresPartsMany(ts);
  if (s) kSumAll(ctx(), s.parts, s.count, o.gpu!);
  else ctx().clear(o.gpu!);
  return o;
}

/**
 * The global L2 norm of ts as a device scalar [] (f32) and, with maxNorm, the clip factor
 * (maxNorm / (norm + 1e-6) when norm > maxNorm, else 1) as another: the partial passes, then one
 * dispatch for both.
 */
export function normMany(ts: readonly Tensor[], maxNorm: number | null = null): { norm: Tensor; factor: Tensor | null } {
  const norm = out([]), factor = maxNorm === null ? null : out([]);
  const s = sumSquaresPartsMany(ts) ?? { parts: zerosStep([1]), count: 1 };
  kSumNorm(ctx(), s.parts, s.count, norm.gpu!, factor ? { factor: factor.gpu!, maxNorm: maxNorm! } : null);
  return { norm, factor };
}

/** x *= f[0] in place for every x of ts (f a device scalar []): one dispatch per tensor, per stack or per pack of them. */
export function scaleManyInPlace(ts: readonly Tensor[], f: Tensor): void {
  const host = ts.find((t) => !t.gpu);
  if (host) throw new R1tsError(`scaleManyInPlace: ${host.name ?? `a tensor of shape ${fmtShape(host.shape)}`} is on the host while the others are on the webgpu device; an in-place scale there would not reach it`);
  const { stacks, packs, singles } = groupStacks(ts);
  const fd = g(f);
  for (const { whole } of packs) kScaleBy(ctx(), whole, whole.size, fd);
  for (const { at, stack } of stacks) kScaleBy(ctx(), stack.whole, at.length * stack.stride, fd, { stride: stack.stride, size: ts[at[0]].size });
  for (const i of singles) if (ts[i].size > 0) kScaleBy(ctx(), g(ts[i]), ts[i].size, fd);
}

/** Σ x² into a device scalar [] (f32). */
export function sumSquares(x: Tensor): Tensor {
  const o = out([]);
  if (x.size === 0) ctx().clear(o.gpu!);
  else kSumSquares(ctx(), g(x), x.size, o.gpu!);
  return o;
}

export function scaleInPlace(x: Tensor, s: number): void {
  if (!x.gpu) throw noDeviceKernel('scaleInPlace (host tensor with a device context)');
  kScale(ctx(), x.gpu, x.size, s);
}

/** The KV cache append on the device: dst [B, Tmax, ...] (a device tensor) gets src [B, Tn, ...] at rows starts[b] (validated by ops.ts). */
export function writeRows(dst: Tensor, src: Tensor, starts: readonly number[], B: number, Tn: number, Tmax: number, row: number): void {
  if (!dst.gpu) throw new R1tsError(`writeRows: the destination ${dst.name ?? 'buffer'} is on the host while the rows to write are on the webgpu device; make the KV cache on the device (model.newCache after the model moved there)`);
  const st = uploadStep(Int32Array.from(starts)); // [B]
  kWriteRows(ctx(), g(src), dst.gpu, st, B, Tn, Tmax, row);
}

/** The modes and the row width of sampleRows' params (rows.ts). */
export const DEVICE_SAMPLING = { greedy: SAMPLE_GREEDY, plain: SAMPLE_PLAIN, minPOnly: SAMPLE_MIN_P, sorted: SAMPLE_SORTED, params: SAMPLE_PARAMS } as const;

/**
 * One next token per row of logits [rows, V] (a device tensor), sampled there (rows.ts sampleRows):
 * params [rows · SAMPLE_PARAMS] per row (mode, T, topK, topP, minP, the host's uniform) →
 * [rows, 2] (token as f32, logprob).
 */
export function sampleRows(logits: Tensor, params: Float32Array): Tensor {
  if (!logits.gpu) throw new R1tsError('sampleRows: the logits must live on the webgpu device');
  const [rows, V] = logits.shape;
  if (logits.rank !== 2 || params.length !== rows * SAMPLE_PARAMS) throw new R1tsError(`sampleRows: logits [${logits.shape.join(', ')}] need ${SAMPLE_PARAMS} parameters per row (got ${params.length})`);
  const o = out([rows, 2]);
  kSampleRows(ctx(), logits.gpu, uploadStep(params), o.gpu!, rows, V);
  return o;
}

/**
 * For rows of logits [rows, V] and the tokens sampleRows picked from them ([rows, 2]), on the
 * device: [rows, 2] = (each row's log-sum-exp, the picked token's logit): the token's raw
 * log-probability is their difference (the engine's top logprobs without reading the rows back).
 */
export function tokenLse(logits: Tensor, picked: Tensor): Tensor {
  if (!logits.gpu || !picked.gpu) throw new R1tsError('tokenLse: the logits and the picked tokens must live on the webgpu device');
  const [rows, V] = logits.shape;
  if (logits.rank !== 2 || picked.rank !== 2 || picked.shape[0] !== rows || picked.shape[1] !== 2) throw new R1tsError(`tokenLse: logits [${logits.shape.join(', ')}] with picked [${picked.shape.join(', ')}]; expected [rows, V] and [rows, 2]`);
  const o = out([rows, 2]);
  kTokenLse(ctx(), logits.gpu, picked.gpu, o.gpu!, rows, V);
  return o;
}

/** x[to .. to + n) = x[from .. from + n) inside one device tensor (non-overlapping spans; the KV cache's row copies). */
export function copyWithin(x: Tensor, from: number, to: number, n: number): void {
  if (!x.gpu) throw noDeviceKernel('copyWithin (host tensor with a device context)');
  kCopyWithin(ctx(), x.gpu, from, to, n);
}

/** dst[dstOff .. dstOff + n) = src[srcOff .. srcOff + n) between two device tensors (different buffers). */
export function copySpan(src: Tensor, srcOff: number, dst: Tensor, dstOff: number, n: number): void {
  if (!src.gpu || !dst.gpu) throw new R1tsError('copySpan: both tensors must live on the webgpu device');
  if (n === 0) return;
  kCopy(ctx(), src.gpu, srcOff, [1], dst.gpu, dstOff, [1], [n]);
}
