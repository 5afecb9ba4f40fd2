// Op frontends: validate shapes and dtypes (throwing ShapeError naming the op
// and the shapes), allocate the output, call the active backend's kernel, and
// record the op for autograd. Every differentiable op here has its rule in
// grad-rules.ts; the ...Backward functions are the non-recorded helpers that
// those rules call. All tensors are contiguous; reshape shares data, every
// other layout change copies. When an input lives on the webgpu device, the
// same validation runs and the device kernel is recorded instead (device-ops.ts);
// an op with no device kernel throws naming itself (noDeviceKernel).

import type { AttentionParams, BinaryOp, UnaryOp } from '../backend/kernels.ts';
import type { GpuTensor } from '../backend/webgpu/tensor.ts';
import { kernels } from '../backend/registry.ts';
import { allocData } from '../core/dtype.ts';
import { NonFiniteError, ShapeError, fmtShape } from '../core/errors.ts';
import { env } from '../core/env.ts';
import { broadcastShapes, broadcastStrides, normAxis, sameShape, sizeOf, stridesOf, type Shape } from '../core/shape.ts';
import { isGradEnabled as isRecording, record } from './autograd.ts';
import * as Dev from './device-ops.ts';
import { giveF32, takeF32 } from './f32-pool.ts';
import { Tensor } from './tensor.ts';

// ------------------------------------------------------------ NaN check mode

let checkNan = env.checkNan();

/** Turns the NaN/Inf check on or off (default: R1TS_CHECK_NAN=1). */
export function setCheckNan(on: boolean): void {
  checkNan = on;
}

function finish(op: string, out: Tensor, inputs: Tensor[] = []): Tensor {
  if (checkNan && out.gpu === null && out.data instanceof Float32Array) {
    const d = out.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        const ins = inputs.map((t) => fmtShape(t.shape)).join(', ');
        throw new NonFiniteError(`${op} produced ${d[i]} at flat index ${i} of its output ${fmtShape(out.shape)} (inputs ${ins || 'none'}); this is the first op to do so`);
      }
    }
  } else if (checkNan && out.gpu !== null) {
    Dev.checkFinite(op, out, inputs);
  }
  return out;
}

/** The NaN check mode's check of an op output (host, or queued on the device), for ops recorded outside this file; returns out. */
export function checkOutput(op: string, out: Tensor, inputs: Tensor[]): Tensor {
  return finish(op, out, inputs);
}

// Recycled f32 buffers (f32-pool.ts). Every op output is a fresh zeroed array, or a recycled
// one of the same length, zeroed: backward() hands back the gradients and activations it
// provably no longer references (releaseF32). Only arrays of at least POOL_MIN elements
// go through the pool; smaller ones are cheaper to allocate than to track.
const POOL_MIN = 4096;

/** Gives `a` back for reuse by later op outputs; the caller guarantees nothing reads or writes it again. */
export function releaseF32(a: Float32Array): void {
  if (a.length >= POOL_MIN) giveF32(a);
}

// Activation scopes (ephemeralScope): a training loss whose intermediates no caller
// keeps. Buffers allocated inside one are "born" there; graph tensors over them are
// counted (record() in autograd.ts), and backward() hands a born buffer to the pool
// once every counted tensor over it has had its node processed — by then no gradient
// rule will read it. The tensors returned by the scope, and any detach()ed view, pin
// their buffers (never recycled). Everything else in the scope must not outlive backward().
// On the webgpu device the same counting keys on the GpuTensor of each op output (device-ops.ts
// calls noteBorn), and a dead one is retired: later outputs of the same step reuse its buffer.
interface ActivationScope { pending: Map<object, number> }
const bornIn = new WeakMap<object, ActivationScope>();
let activeScope: ActivationScope | null = null;

/**
 * Runs fn (a forward pass and loss) so that backward() may recycle the buffers of its
 * intermediate activations. Only the tensors in fn's result (the value itself, or its
 * own properties / array items) may be used after backward(); fn must not stash other
 * tensors it creates (module state, closures), nor their .data.
 */
export function ephemeralScope<R>(fn: () => R): R {
  const outer = activeScope;
  const scope: ActivationScope = outer ?? { pending: new Map() };
  activeScope = scope;
  let r: R;
  try {
    r = fn();
  } finally {
    activeScope = outer;
  }
  if (!outer) {
    const pinAll = (v: unknown) => { if (v instanceof Tensor) pinF32Buffer(v.gpu ?? v.data.buffer); };
    if (Array.isArray(r)) r.forEach(pinAll);
    else if (r instanceof Tensor) pinAll(r);
    else if (r && typeof r === 'object') Object.values(r).forEach(pinAll);
  }
  return r;
}

/** The buffer is no longer eligible for recycling (kept by a caller). */
export function pinF32Buffer(buf: object): void {
  const s = bornIn.get(buf);
  if (s) {
    s.pending.delete(buf);
    bornIn.delete(buf);
  }
}

/** autograd: a graph tensor was made over `buf`; counts it if buf was born in a live scope. */
export function noteGraphTensor(buf: object): boolean {
  const s = bornIn.get(buf);
  if (!s) return false;
  s.pending.set(buf, (s.pending.get(buf) ?? 0) + 1);
  return true;
}

/** autograd: a counted tensor over `buf` had its node processed; true when buf is now dead (the caller releases it). */
export function doneGraphTensor(buf: object): boolean {
  const s = bornIn.get(buf);
  if (!s) return false;
  const left = (s.pending.get(buf) ?? 1) - 1;
  if (left > 0) {
    s.pending.set(buf, left);
    return false;
  }
  s.pending.delete(buf);
  bornIn.delete(buf);
  return true;
}

/** Whether buf belongs to a scope's activations (not a gradient's to recycle). */
export function isBornF32(buf: object): boolean {
  return bornIn.has(buf);
}

/** device-ops.ts: a device op output (keyed by its GpuTensor) made inside a live activation scope is born there. */
export function noteBorn(key: object): void {
  if (activeScope) bornIn.set(key, activeScope);
}

/** An f32 array of n elements, zeroed unless `zero` is false (then a recycled one holds stale values): recycled when the pool has that length. */
export function allocF32(n: number, zero = true): Float32Array {
  if (n < POOL_MIN) return new Float32Array(n);
  const p = takeF32(n);
  const a = p ? (zero ? p.fill(0) : p) : new Float32Array(n);
  if (activeScope) bornIn.set(a.buffer, activeScope);
  return a;
}

/** An op output; `zero` false only where the kernel writes every element. */
function newF32(shape: Shape, zero = true): Tensor {
  return new Tensor(allocF32(sizeOf(shape), zero), shape);
}

function scalarLike(v: number): Tensor {
  return new Tensor(new Float32Array([v]), []);
}

function asTensor(x: Tensor | number): Tensor {
  return typeof x === 'number' ? scalarLike(x) : x;
}

/** A tensor over x's storage with another shape (same element count). */
function viewAs(x: Tensor, shape: Shape): Tensor {
  return new Tensor(x.gpu ?? x.data, shape);
}

function f32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new ShapeError(`${op}: expected f32 tensors, got an i32 tensor of shape ${fmtShape(t.shape)}`);
}

// ------------------------------------------------------------ elementwise

function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  f32(op, x);
  if (x.gpu) return finish(op, record(op, Dev.unary(op, x), [x], null), [x]);
  const out = newF32(x.shape, false);
  kernels().unary(op, x.data as Float32Array, out.data as Float32Array, x.size);
  return finish(op, record(op, out, [x], null), [x]);
}

export const neg = (x: Tensor) => unaryOp('neg', x);
export const exp = (x: Tensor) => unaryOp('exp', x);
export const log = (x: Tensor) => unaryOp('log', x);
export const sqrt = (x: Tensor) => unaryOp('sqrt', x);
export const rsqrt = (x: Tensor) => unaryOp('rsqrt', x);
export const abs = (x: Tensor) => unaryOp('abs', x);
export const square = (x: Tensor) => unaryOp('square', x);
export const recip = (x: Tensor) => unaryOp('recip', x);
export const tanh = (x: Tensor) => unaryOp('tanh', x);
export const sigmoid = (x: Tensor) => unaryOp('sigmoid', x);
export const silu = (x: Tensor) => unaryOp('silu', x);
export const relu = (x: Tensor) => unaryOp('relu', x);
/** GELU, tanh approximation. */
export const gelu = (x: Tensor) => unaryOp('gelu', x);

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  f32(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  if (a.gpu || b.gpu) return Dev.binary(op, a, broadcastStrides(a.shape, shape), b, broadcastStrides(b.shape, shape), shape);
  const out = newF32(shape, false);
  kernels().binary(op, a.data as Float32Array, broadcastStrides(a.shape, shape), b.data as Float32Array, broadcastStrides(b.shape, shape), out.data as Float32Array, shape);
  return out;
}

function binaryOp(op: 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'pow', a: Tensor | number, b: Tensor | number): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = binaryRaw(op, ta, tb);
  return finish(op, record(op, out, [ta, tb], null), [ta, tb]);
}

export const add = (a: Tensor | number, b: Tensor | number) => binaryOp('add', a, b);
export const sub = (a: Tensor | number, b: Tensor | number) => binaryOp('sub', a, b);
export const mul = (a: Tensor | number, b: Tensor | number) => binaryOp('mul', a, b);
export const div = (a: Tensor | number, b: Tensor | number) => binaryOp('div', a, b);
/** Elementwise maximum; at ties the gradient goes to a. */
export const maximum = (a: Tensor | number, b: Tensor | number) => binaryOp('max', a, b);
/** Elementwise minimum; at ties the gradient goes to a. */
export const minimum = (a: Tensor | number, b: Tensor | number) => binaryOp('min', a, b);
export const pow = (a: Tensor | number, b: Tensor | number) => binaryOp('pow', a, b);

/** Comparisons give 1/0 and are not differentiable. */
export const eq = (a: Tensor | number, b: Tensor | number) => finish('eq', binaryRaw('eq', asTensor(a), asTensor(b)));
export const gt = (a: Tensor | number, b: Tensor | number) => finish('gt', binaryRaw('gt', asTensor(a), asTensor(b)));
export const ge = (a: Tensor | number, b: Tensor | number) => finish('ge', binaryRaw('ge', asTensor(a), asTensor(b)));

/** a += b in place (same shape; used for gradient accumulation, never recorded). */
export function addInPlace(a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw new ShapeError(`addInPlace: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} differ`);
  const s = stridesOf(a.shape);
  if (a.gpu || b.gpu) {
    // Device binaries may not write an input: the sum goes to a new buffer that becomes a's storage.
    if (!a.gpu) throw Dev.noDeviceKernel('addInPlace into a host tensor');
    f32('addInPlace', a, b);
    a.setStorage(Dev.binary('add', a, s, b, s, a.shape).gpu!);
    return;
  }
  kernels().binary('add', a.f32('addInPlace'), s, b.f32('addInPlace'), s, a.data as Float32Array, a.shape);
}

// ------------------------------------------------------------ reductions

function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = [...new Set(list.map((a) => normAxis(op, a, rank)))];
  return out.sort((p, q) => p - q);
}

function reduceRaw(op: 'sum' | 'max', x: Tensor, axes: number[]): Tensor {
  if (x.gpu) return reduceDevice(op, x, axes);
  // Reduce one axis at a time, highest first, keeping dims; reshape at the end.
  let cur = x.data as Float32Array;
  const shape = [...x.shape];
  for (let i = axes.length - 1; i >= 0; i--) {
    const a = axes[i];
    const outer = sizeOf(shape.slice(0, a)), r = shape[a], inner = sizeOf(shape.slice(a + 1));
    if (r === 1) continue;
    const next = new Float32Array(outer * inner);
    if (r === 0 && op === 'max') throw new ShapeError(`max: cannot reduce an empty axis ${a} of ${fmtShape(x.shape)}`);
    kernels().reduce(op, cur, next, outer, r, inner);
    cur = next;
    shape[a] = 1;
  }
  return new Tensor(cur === x.data ? cur.slice() : cur, shape);
}

function reduceDevice(op: 'sum' | 'max', x: Tensor, axes: number[]): Tensor {
  let cur = x.gpu!;
  const shape = [...x.shape];
  for (let i = axes.length - 1; i >= 0; i--) {
    const a = axes[i];
    const outer = sizeOf(shape.slice(0, a)), r = shape[a], inner = sizeOf(shape.slice(a + 1));
    if (r === 1) continue;
    if (r === 0 && op === 'max') throw new ShapeError(`max: cannot reduce an empty axis ${a} of ${fmtShape(x.shape)}`);
    if (r === 0) {
      shape[a] = 1;
      return Dev.zeros(shape);
    }
    cur = Dev.reduce(op, cur, outer, r, inner);
    shape[a] = 1;
  }
  return cur === x.gpu ? Dev.copyAll(viewAs(x, shape)) : new Tensor(cur, shape);
}

function keepShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function dropShape(x: Tensor, axes: number[]): number[] {
  return x.shape.filter((_, i) => !axes.includes(i));
}

export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  f32('sum', x);
  const ax = normAxes('sum', axes, x.rank);
  const r = reduceRaw('sum', x, ax);
  const out = viewAs(r, keepDims ? keepShape(x, ax) : dropShape(x, ax));
  return finish('sum', record('sum', out, [x], { axes: ax }), [x]);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes('mean', axes, x.rank);
  let n = 1;
  for (const a of ax) n *= x.shape[a];
  return mul(sum(x, ax, keepDims), 1 / n);
}

/** Max over axes; the gradient is shared equally among tied maxima. */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  f32('max', x);
  const ax = normAxes('max', axes, x.rank);
  const r = reduceRaw('max', x, ax);
  const out = viewAs(r, keepDims ? keepShape(x, ax) : dropShape(x, ax));
  return finish('max', record('amax', out, [x], { axes: ax }), [x]);
}

/** Sums g over broadcast dimensions so that it has `shape` (the adjoint of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const r = reduceRaw('sum', g, axes);
  return viewAs(r, shape);
}

// ------------------------------------------------------------ layout

export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0) throw new ShapeError(`reshape: cannot reshape ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    s[neg] = x.size / rest;
  }
  if (sizeOf(s) !== x.size) throw new ShapeError(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`);
  const out = viewAs(x, s);
  return record('reshape', out, [x], { shape: x.shape });
}

/** Reorders dimensions (copies). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError(`permute: ${fmtShape(perm)} is not a permutation of the ${x.rank} dims of ${fmtShape(x.shape)}`);
  }
  const shape = perm.map((p) => x.shape[p]);
  const xs = stridesOf(x.shape);
  const out = x.gpu ? Dev.empty(shape, x.dtype) : new Tensor(allocData(x.dtype, x.size), shape);
  if (x.gpu) Dev.copyInto(x, 0, perm.map((p) => xs[p]), out, 0, stridesOf(shape), shape);
  else kernels().copy(x.data, 0, perm.map((p) => xs[p]), out.data, 0, stridesOf(shape), shape);
  return record('permute', out, [x], { perm: [...perm] });
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const p = Array.from({ length: x.rank }, (_, i) => i);
  const ia = normAxis('transpose', a, x.rank), ib = normAxis('transpose', b, x.rank);
  [p[ia], p[ib]] = [p[ib], p[ia]];
  return permute(x, p);
}

/** x[..., start:start+length, ...] along `axis` (copies). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.rank);
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > x.shape[a]) {
    throw new ShapeError(`narrow: range [${start}, ${start + length}) is outside axis ${a} of size ${x.shape[a]} (shape ${fmtShape(x.shape)})`);
  }
  const shape = [...x.shape];
  shape[a] = length;
  const xs = stridesOf(x.shape);
  const out = x.gpu ? Dev.empty(shape, x.dtype) : new Tensor(allocData(x.dtype, sizeOf(shape)), shape);
  if (x.gpu) Dev.copyInto(x, start * xs[a], xs, out, 0, stridesOf(shape), shape);
  else kernels().copy(x.data, start * xs[a], xs, out.data, 0, stridesOf(shape), shape);
  return record('narrow', out, [x], { axis: a, start, inShape: x.shape });
}

/** Scatters g into zeros of inShape at [start, start+len) along axis: the adjoint of narrow. */
export function narrowBackward(g: Tensor, inShape: Shape, axis: number, start: number): Tensor {
  const os = stridesOf(inShape);
  if (g.gpu) {
    const o = Dev.zeros(inShape);
    Dev.copyInto(g, 0, stridesOf(g.shape), o, start * os[axis], os, g.shape);
    return o;
  }
  const out = newF32(inShape);
  kernels().copy(g.data, 0, stridesOf(g.shape), out.data, start * os[axis], os, g.shape);
  return out;
}

/** Concatenates along `axis`; all other dims must match. */
export function cat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('cat: needs at least one tensor');
  const a = normAxis('cat', axis, xs[0].rank);
  const first = xs[0];
  for (const t of xs) {
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`cat: shapes ${xs.map((u) => fmtShape(u.shape)).join(', ')} do not match outside axis ${a} (or dtypes differ)`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a], 0);
  const dev = Dev.onDevice(...xs);
  const out = dev ? Dev.empty(shape, first.dtype) : new Tensor(allocData(first.dtype, sizeOf(shape)), shape);
  const os = stridesOf(shape);
  let off = 0;
  for (const t of xs) {
    if (dev) Dev.copyInto(t, 0, stridesOf(t.shape), out, off * os[a], os, t.shape);
    else kernels().copy(t.data, 0, stridesOf(t.shape), out.data, off * os[a], os, t.shape);
    off += t.shape[a];
  }
  return finish('cat', record('cat', out, [...xs], { axis: a, sizes: xs.map((t) => t.shape[a]) }));
}

/** Materializes x broadcast to `shape` (copies). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const s = broadcastShapes('broadcastTo', x.shape, shape);
  if (!sameShape(s, shape)) throw new ShapeError(`broadcastTo: ${fmtShape(x.shape)} cannot be broadcast to ${fmtShape(shape)}`);
  const out = x.gpu ? Dev.empty(shape, x.dtype) : new Tensor(allocData(x.dtype, sizeOf(shape)), shape);
  if (x.gpu) Dev.copyInto(x, 0, broadcastStrides(x.shape, shape), out, 0, stridesOf(shape), shape);
  else kernels().copy(x.data, 0, broadcastStrides(x.shape, shape), out.data, 0, stridesOf(shape), shape);
  return record('broadcastTo', out, [x], { inShape: x.shape });
}

// ------------------------------------------------------------ matmul

export interface MatmulOptions {
  /** Use the last two dims of a transposed (a is stored [..., K, M]). */
  transA?: boolean;
  /** Use the last two dims of b transposed (b is stored [..., N, K]). */
  transB?: boolean;
}

/**
 * op(a) @ op(b) over the last two dims. Batch dims: equal on both sides, or one side
 * 2-D (broadcast to every batch item).
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const out = matmulRaw(a, b, opts);
  return finish('matmul', record('matmul', out, [a, b], { transA: !!opts.transA, transB: !!opts.transB }), [a, b]);
}

function matmulRaw(a: Tensor, b: Tensor, opts: MatmulOptions, bias: Tensor | null = null): Tensor {
  f32('matmul', a, b);
  const transA = !!opts.transA, transB = !!opts.transB;
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul: expected tensors of rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2), [br, bc] = b.shape.slice(-2);
  const M = transA ? ac : ar, K = transA ? ar : ac;
  const Kb = transB ? bc : br, N = transB ? br : bc;
  if (K !== Kb) throw new ShapeError(`matmul: inner dimensions differ: ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''} (${K} vs ${Kb})`);
  const aB = a.shape.slice(0, -2), bB = b.shape.slice(0, -2);
  if (aB.length && bB.length && !sameShape(aB, bB)) {
    throw new ShapeError(`matmul: batch dims ${fmtShape(aB)} and ${fmtShape(bB)} differ (equal batch dims, or a 2-D operand, are supported)`);
  }
  const batchShape = aB.length ? aB : bB;
  if (Dev.onDevice(a, b, bias)) {
    const out = Dev.empty([...batchShape, M, N]);
    const fold = bB.length === 0 && !transA;
    const p = fold
      ? { batch: 1, m: sizeOf(aB) * M, n: N, k: K, transA: false, transB, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0 }
      : { batch: sizeOf(batchShape), m: M, n: N, k: K, transA, transB, alpha: 1, beta: 0, strideA: aB.length ? M * K : 0, strideB: bB.length ? K * N : 0, strideC: M * N };
    Dev.gemm(a, b, out, p, bias);
    return out;
  }
  const k = kernels();
  if (bB.length === 0 && !transA) {
    // One product: a's batch folds into the rows.
    const rows = sizeOf(aB) * M;
    const out = newF32([...batchShape, M, N], K === 0);
    k.gemm(a.data as Float32Array, b.data as Float32Array, out.data as Float32Array, {
      batch: 1, m: rows, n: N, k: K, transA: false, transB, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: bias ? (bias.data as Float32Array) : null,
    });
    return out;
  }
  const batch = sizeOf(batchShape);
  const out = newF32([...batchShape, M, N], K === 0);
  k.gemm(a.data as Float32Array, b.data as Float32Array, out.data as Float32Array, {
    batch, m: M, n: N, k: K, transA, transB, alpha: 1, beta: 0,
    strideA: aB.length ? M * K : 0, strideB: bB.length ? K * N : 0, strideC: M * N, bias: bias ? (bias.data as Float32Array) : null,
  });
  return out;
}

/** y = x @ wᵀ + bias, with w [out, in] (PyTorch's Linear layout) and the bias fused into the GEMM. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  if (w.rank !== 2) throw new ShapeError(`linear: weight must be [out, in], got ${fmtShape(w.shape)}`);
  if (x.shape[x.rank - 1] !== w.shape[1]) throw new ShapeError(`linear: input ${fmtShape(x.shape)} does not end in the weight's in-features ${w.shape[1]} (weight ${fmtShape(w.shape)})`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) throw new ShapeError(`linear: bias ${fmtShape(bias.shape)} must be [${w.shape[0]}]`);
  const out = matmulRaw(x.rank === 1 ? viewAs(x, [1, x.shape[0]]) : x, w, { transB: true }, bias);
  const shaped = x.rank === 1 ? viewAs(out, [w.shape[0]]) : out;
  return finish('linear', record('linear', shaped, bias ? [x, w, bias] : [x, w], null), [x, w]);
}

// ------------------------------------------------------------ fused layers

function rowsCols(op: string, x: Tensor): [number, number] {
  if (x.rank < 1) throw new ShapeError(`${op}: expected a tensor of rank >= 1, got a scalar`);
  const cols = x.shape[x.rank - 1];
  return [x.size / Math.max(cols, 1), cols];
}

function lastAxis(op: string, x: Tensor, axis: number): void {
  if (normAxis(op, axis, x.rank) !== x.rank - 1) throw new ShapeError(`${op}: only the last axis is supported (got axis ${axis} of ${fmtShape(x.shape)}); permute first`);
}

export function softmax(x: Tensor, axis = -1): Tensor {
  f32('softmax', x);
  lastAxis('softmax', x, axis);
  const [rows, cols] = rowsCols('softmax', x);
  if (x.gpu) return finish('softmax', record('softmax', Dev.softmax('softmax', x, rows, cols), [x], null), [x]);
  const out = newF32(x.shape, false);
  kernels().softmax(x.data as Float32Array, out.data as Float32Array, rows, cols);
  return finish('softmax', record('softmax', out, [x], null), [x]);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  f32('logSoftmax', x);
  lastAxis('logSoftmax', x, axis);
  const [rows, cols] = rowsCols('logSoftmax', x);
  if (x.gpu) return finish('logSoftmax', record('logSoftmax', Dev.softmax('logSoftmax', x, rows, cols), [x], null), [x]);
  const out = newF32(x.shape, false);
  kernels().logSoftmax(x.data as Float32Array, out.data as Float32Array, rows, cols);
  return finish('logSoftmax', record('logSoftmax', out, [x], null), [x]);
}

/** Not recorded: the gradient of softmax/logSoftmax given its output y. */
export function softmaxBackward(kind: 'softmax' | 'logSoftmax', y: Tensor, g: Tensor): Tensor {
  const [rows, cols] = rowsCols(kind, y);
  if (Dev.onDevice(y, g)) return Dev.softmaxBackward(kind, y, g, rows, cols);
  const dx = newF32(y.shape);
  const k = kernels();
  (kind === 'softmax' ? k.softmaxBackward : k.logSoftmaxBackward)(y.data as Float32Array, g.data as Float32Array, dx.data as Float32Array, rows, cols);
  return finish(`${kind} backward`, dx);
}

/** RMSNorm over the last dim with weight w [C]. */
export function rmsnorm(x: Tensor, w: Tensor, eps = 1e-6): Tensor {
  f32('rmsnorm', x, w);
  const [rows, cols] = rowsCols('rmsnorm', x);
  if (w.rank !== 1 || w.shape[0] !== cols) throw new ShapeError(`rmsnorm: weight ${fmtShape(w.shape)} must be [${cols}] for input ${fmtShape(x.shape)}`);
  if (Dev.onDevice(x, w)) {
    const r = Dev.rmsnorm(x, w, rows, cols, eps);
    return finish('rmsnorm', record('rmsnorm', r.out, [x, w], { rstd: r.rstd }), [x, w]);
  }
  const out = newF32(x.shape, false);
  const rstd = new Float32Array(rows);
  kernels().rmsnorm(x.data as Float32Array, w.data as Float32Array, out.data as Float32Array, rstd, rows, cols, eps);
  return finish('rmsnorm', record('rmsnorm', out, [x, w], { rstd }), [x, w]);
}

/** Not recorded: dx and dw of rmsnorm. */
export function rmsnormBackward(x: Tensor, w: Tensor, rstd: Float32Array | GpuTensor, g: Tensor): [Tensor, Tensor] {
  const [rows, cols] = rowsCols('rmsnorm', x);
  if (Dev.onDevice(x, w, g) || !(rstd instanceof Float32Array)) return Dev.rmsnormBackward(x, w, rstd, g, rows, cols);
  const dx = newF32(x.shape), dw = newF32(w.shape);
  kernels().rmsnormBackward(x.data as Float32Array, w.data as Float32Array, rstd, g.data as Float32Array, dx.data as Float32Array, dw.data as Float32Array, rows, cols);
  return [finish('rmsnorm backward', dx), finish('rmsnorm backward', dw)];
}

export interface RopeOptions {
  /** Dims of each head that rotate (default: all). */
  rotaryDim?: number;
  /** Pair layout: true (2i, 2i+1) as DeepSeek-V3 checkpoints; false (i, i+half) as Llama/Qwen2. */
  interleaved: boolean;
}

/**
 * Rotary position embedding of x [..., H, D] (N = product of the leading dims) at
 * positions pos (i32, N values), with cos/sin tables [maxPos, rotaryDim/2].
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, pos: Tensor, opts: RopeOptions): Tensor {
  f32('rope', x, cos, sin);
  const p = ropeParams(x, cos, sin, pos, opts, false);
  if (Dev.onDevice(x, cos, sin, pos)) return finish('rope', record('rope', Dev.rope(x, cos, sin, pos, p), [x], { cos, sin, pos, opts }), [x]);
  const out = newF32(x.shape, false);
  kernels().rope(x.data as Float32Array, out.data as Float32Array, cos.data as Float32Array, sin.data as Float32Array, pos.i32('rope'), p);
  return finish('rope', record('rope', out, [x], { cos, sin, pos, opts }), [x]);
}

function ropeParams(x: Tensor, cos: Tensor, sin: Tensor, pos: Tensor, opts: RopeOptions, inverse: boolean) {
  if (x.rank < 2) throw new ShapeError(`rope: expected x [..., H, D], got ${fmtShape(x.shape)}`);
  const H = x.shape[x.rank - 2], D = x.shape[x.rank - 1];
  const N = x.size / Math.max(H * D, 1);
  const rotaryDim = opts.rotaryDim ?? D;
  if (rotaryDim % 2 !== 0 || rotaryDim > D || rotaryDim <= 0) throw new ShapeError(`rope: rotaryDim ${rotaryDim} must be even and in (0, ${D}]`);
  const half = rotaryDim / 2;
  if (cos.rank !== 2 || cos.shape[1] !== half || !sameShape(cos.shape, sin.shape)) {
    throw new ShapeError(`rope: cos ${fmtShape(cos.shape)} and sin ${fmtShape(sin.shape)} must both be [maxPos, ${half}]`);
  }
  if (pos.size !== N) throw new ShapeError(`rope: ${pos.size} positions for ${N} rows of ${fmtShape(x.shape)} (one position per row)`);
  return { N, H, D, rotaryDim, interleaved: opts.interleaved, inverse };
}

/** Not recorded: the inverse rotation (rope's gradient). */
export function ropeBackward(g: Tensor, cos: Tensor, sin: Tensor, pos: Tensor, opts: RopeOptions): Tensor {
  const p = ropeParams(g, cos, sin, pos, opts, true);
  if (Dev.onDevice(g, cos, sin, pos)) return Dev.rope(g, cos, sin, pos, p);
  const out = newF32(g.shape, false);
  kernels().rope(g.data as Float32Array, out.data as Float32Array, cos.data as Float32Array, sin.data as Float32Array, pos.i32('rope'), p);
  return out;
}

/** silu(gate) ⊙ up. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  f32('swiglu', gate, up);
  if (!sameShape(gate.shape, up.shape)) throw new ShapeError(`swiglu: gate ${fmtShape(gate.shape)} and up ${fmtShape(up.shape)} must have the same shape`);
  if (Dev.onDevice(gate, up)) return finish('swiglu', record('swiglu', Dev.swiglu(gate, up), [gate, up], null), [gate, up]);
  const out = newF32(gate.shape, false);
  kernels().swiglu(gate.data as Float32Array, up.data as Float32Array, out.data as Float32Array, gate.size);
  return finish('swiglu', record('swiglu', out, [gate, up], null), [gate, up]);
}

/** Not recorded: swiglu's gradients. */
export function swigluBackward(gate: Tensor, up: Tensor, g: Tensor): [Tensor, Tensor] {
  if (Dev.onDevice(gate, up, g)) return Dev.swigluBackward(gate, up, g);
  const dg = newF32(gate.shape, false), du = newF32(up.shape, false);
  kernels().swigluBackward(gate.data as Float32Array, up.data as Float32Array, g.data as Float32Array, dg.data as Float32Array, du.data as Float32Array, gate.size);
  return [dg, du];
}

/** Not recorded: silu's gradient. */
export function siluBackward(x: Tensor, g: Tensor): Tensor {
  if (Dev.onDevice(x, g)) return Dev.siluBackward(x, g);
  const dx = newF32(x.shape, false);
  kernels().siluBackward(x.data as Float32Array, g.data as Float32Array, dx.data as Float32Array, x.size);
  return dx;
}

/** Rows of table [V, C] at ids (any shape) → [...ids.shape, C]. */
export function embedding(table: Tensor, idx: Tensor): Tensor {
  f32('embedding', table);
  if (table.rank !== 2) throw new ShapeError(`embedding: table must be [V, C], got ${fmtShape(table.shape)}`);
  const C = table.shape[1];
  if (idx.dtype !== 'i32') idx.i32('embedding');
  if (Dev.onDevice(table, idx)) return finish('embedding', record('embedding', Dev.embedding(table, idx, C), [table], { ids: idx }), [table]);
  const out = newF32([...idx.shape, C], false);
  kernels().embedding(table.data as Float32Array, idx.i32('embedding'), out.data as Float32Array, idx.size, C);
  return finish('embedding', record('embedding', out, [table], { ids: idx }), [table]);
}

/** Not recorded: the table's gradient (scatter-add of g at ids). */
export function embeddingBackward(tableShape: Shape, idx: Tensor, g: Tensor): Tensor {
  if (Dev.onDevice(idx, g)) return Dev.embeddingBackward(tableShape, idx, g);
  const dt = newF32(tableShape);
  kernels().embeddingBackward(idx.i32('embedding'), g.data as Float32Array, dt.data as Float32Array, idx.size, tableShape[1]);
  return dt;
}

export interface AttentionOptions {
  causal: boolean;
  /** Multiplies q·k (default 1/sqrt(D)). */
  scale?: number;
  /** Position of query row 0 among the keys (default Tk - Tq: the queries are the last rows). */
  qOffset?: number;
  /** Per-batch query offsets [B] (i32), replacing qOffset. */
  qOffsets?: Tensor | null;
  /** Per-batch valid key counts [B] (i32): keys at or beyond are masked. */
  kvLens?: Tensor | null;
}

/** Multi-head attention, q [B,Tq,Hq,D], k [B,Tk,Hkv,D], v [B,Tk,Hkv,Dv] → [B,Tq,Hq,Dv]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  f32('attention', q, k, v);
  const bad = () => new ShapeError(`attention: expected q [B,Tq,Hq,D], k [B,Tk,Hkv,D], v [B,Tk,Hkv,Dv] with Hq a multiple of Hkv; got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) throw bad();
  const [B, Tq, Hq, D] = q.shape, [Bk, Tk, Hkv, Dk] = k.shape, [Bv, Tv, Hv, Dv] = v.shape;
  if (B !== Bk || B !== Bv || Tk !== Tv || Hkv !== Hv || D !== Dk || Hkv === 0 || Hq % Hkv !== 0) throw bad();
  for (const [name, t] of [['qOffsets', opts.qOffsets], ['kvLens', opts.kvLens]] as const) {
    if (t && (t.dtype !== 'i32' || t.size !== B)) throw new ShapeError(`attention: ${name} must be an i32 tensor of ${B} values, got ${t.dtype} ${fmtShape(t.shape)}`);
  }
  const p: AttentionParams = {
    B, Tq, Tk, Hq, Hkv, D, Dv, scale: opts.scale ?? 1 / Math.sqrt(D), causal: opts.causal, qOffset: opts.qOffset ?? Tk - Tq,
    qOffsets: opts.qOffsets ? (opts.qOffsets.data as Int32Array) : null, kvLens: opts.kvLens ? (opts.kvLens.data as Int32Array) : null,
  };
  if (Dev.onDevice(q, k, v)) {
    const r = Dev.attention(q, k, v, p);
    return finish('attention', record('attention', r.out, [q, k, v], { p, lse: r.lse }), [q, k, v]);
  }
  const out = newF32([B, Tq, Hq, Dv]);
  const lse = new Float32Array(B * Hq * Tq);
  kernels().attention(q.data as Float32Array, k.data as Float32Array, v.data as Float32Array, out.data as Float32Array, lse, p);
  return finish('attention', record('attention', out, [q, k, v], { p, lse }), [q, k, v]);
}

/** Not recorded: attention's gradients from its saved output and lse. */
export function attentionBackward(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Float32Array | GpuTensor, g: Tensor, p: AttentionParams): [Tensor, Tensor, Tensor] {
  if (Dev.onDevice(q, k, v, out, g) || !(lse instanceof Float32Array)) return Dev.attentionBackward(q, k, v, out, lse, g, p);
  const dq = newF32(q.shape), dk = newF32(k.shape), dv = newF32(v.shape);
  kernels().attentionBackward(q.data as Float32Array, k.data as Float32Array, v.data as Float32Array, out.data as Float32Array, lse, g.data as Float32Array,
    dq.data as Float32Array, dk.data as Float32Array, dv.data as Float32Array, p);
  return [dq, dk, dv];
}

/**
 * Per-row cross-entropy of logits [..., V] against targets [...] (i32): a tensor of the
 * targets' shape, 0 where the target is ignoreIndex. Fused: no separate softmax pass.
 */
export function crossEntropyRows(logits: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
  f32('crossEntropy', logits);
  const V = logits.shape[logits.rank - 1];
  if (logits.rank < 1 || !sameShape(logits.shape.slice(0, -1), targets.shape)) {
    throw new ShapeError(`crossEntropy: logits ${fmtShape(logits.shape)} must be targets ${fmtShape(targets.shape)} plus a vocabulary dim`);
  }
  const rows = targets.size;
  if (targets.dtype !== 'i32') targets.i32('crossEntropy');
  if (Dev.onDevice(logits, targets)) {
    const r = Dev.crossEntropy(logits, targets, rows, V, ignoreIndex);
    return finish('crossEntropy', record('crossEntropy', r.loss, [logits], { targets, lse: r.lse, ignoreIndex }), [logits]);
  }
  const loss = newF32(targets.shape);
  const lse = new Float32Array(rows);
  kernels().crossEntropy(logits.data as Float32Array, targets.i32('crossEntropy'), loss.data as Float32Array, lse, rows, V, ignoreIndex);
  return finish('crossEntropy', record('crossEntropy', loss, [logits], { targets, lse, ignoreIndex }), [logits]);
}

/** Mean (over non-ignored targets) or summed cross-entropy. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: { ignoreIndex?: number; reduction?: 'mean' | 'sum' } = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const rows = crossEntropyRows(logits, targets, ignoreIndex);
  const total = sum(rows);
  if ((opts.reduction ?? 'mean') === 'sum') return total;
  let n = 0;
  if (targets.gpu) throw new ShapeError(`crossEntropy: the mean reduction counts the non-ignored targets on the host; pass host targets (they are uploaded), not a device tensor`);
  const t = targets.data;
  for (let i = 0; i < t.length; i++) if (t[i] !== ignoreIndex) n++;
  return mul(total, n > 0 ? 1 / n : 0);
}

/**
 * crossEntropy(linear(x, w), targets) without keeping the logits: rows go through in chunks
 * (x [..., C], w [V, C], targets = x's leading dims), each chunk's logits live in one reused
 * buffer, and when x or w needs a gradient the chunk's dlogits are turned into dx rows and
 * accumulated into dw right away (the loss is a scalar, so backward only scales them by the
 * upstream gradient). Same value as the unfused ops up to float summation order.
 */
export function linearCrossEntropy(x: Tensor, w: Tensor, targets: Tensor, opts: { ignoreIndex?: number; reduction?: 'mean' | 'sum' } = {}): Tensor {
  f32('linearCrossEntropy', x, w);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  if (w.rank !== 2) throw new ShapeError(`linearCrossEntropy: weight must be [V, C], got ${fmtShape(w.shape)}`);
  const [V, C] = w.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== C || !sameShape(x.shape.slice(0, -1), targets.shape)) {
    throw new ShapeError(`linearCrossEntropy: x ${fmtShape(x.shape)} must be targets ${fmtShape(targets.shape)} plus the weight's in-features ${C} (weight ${fmtShape(w.shape)})`);
  }
  if (targets.gpu) throw new ShapeError(`linearCrossEntropy: the mean reduction counts the non-ignored targets on the host; pass host targets (they are uploaded), not a device tensor`);
  const t = targets.i32('linearCrossEntropy');
  const N = t.length;
  let count = 0;
  for (let i = 0; i < N; i++) if (t[i] !== ignoreIndex) count++;
  const scale = (opts.reduction ?? 'mean') === 'sum' ? 1 : count > 0 ? 1 / count : 0;
  const needX = isRecording() && x.requiresGrad, needW = isRecording() && w.requiresGrad;
  if (Dev.onDevice(x, w)) {
    const r = Dev.linearCrossEntropy(x, w, targets, N, V, C, ignoreIndex, scale, needX, needW);
    return finish('linearCrossEntropy', record('linearCrossEntropy', r.loss, [x, w], { dx: r.dx, dw: r.dw }), [x, w]);
  }
  const k = kernels();
  // Enough rows per chunk to keep the dW re-reads few (at most ~8 chunks), at least 256.
  const R = Math.max(1, Math.min(N, Math.max(256, Math.ceil(N / 8))));
  const logits = allocF32(R * V, false); // [R, V]
  const dl = needX || needW ? allocF32(R * V, false) : null; // [R, V]
  const dx = needX ? newF32(x.shape, false) : null; // [..., C]
  const dw = needW ? newF32(w.shape, N === 0) : null; // [V, C]
  const lossRows = new Float32Array(R), lse = new Float32Array(R), g = new Float32Array(R).fill(scale);
  const xd = x.data as Float32Array, wd = w.data as Float32Array;
  let total = 0;
  for (let r0 = 0; r0 < N; r0 += R) {
    const rows = Math.min(R, N - r0);
    const tc = t.subarray(r0, r0 + rows), xc = xd.subarray(r0 * C, (r0 + rows) * C);
    k.gemm(xc, wd, logits, { batch: 1, m: rows, n: V, k: C, transA: false, transB: true, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null });
    k.crossEntropy(logits, tc, lossRows, lse, rows, V, ignoreIndex);
    for (let i = 0; i < rows; i++) total += lossRows[i];
    if (!dl) continue;
    k.crossEntropyBackward(logits, tc, lse, g, dl, rows, V, ignoreIndex);
    if (dx) k.gemm(dl, wd, (dx.data as Float32Array).subarray(r0 * C, (r0 + rows) * C), { batch: 1, m: rows, n: C, k: V, transA: false, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null });
    if (dw) k.gemm(dl, xc, dw.data as Float32Array, { batch: 1, m: V, n: C, k: rows, transA: true, transB: false, alpha: 1, beta: r0 === 0 ? 0 : 1, strideA: 0, strideB: 0, strideC: 0, bias: null });
  }
  releaseF32(logits);
  if (dl) releaseF32(dl);
  const out = new Tensor(new Float32Array([total * scale]), []);
  return finish('linearCrossEntropy', record('linearCrossEntropy', out, [x, w], { dx, dw }), [x, w]);
}

/** Not recorded: gradient of crossEntropyRows given the per-row upstream gradient. */
export function crossEntropyBackward(logits: Tensor, targets: Tensor, lse: Float32Array | GpuTensor, g: Tensor, ignoreIndex: number): Tensor {
  const V = logits.shape[logits.rank - 1];
  if (Dev.onDevice(logits, targets, g) || !(lse instanceof Float32Array)) return Dev.crossEntropyBackward(logits, targets, lse, g, targets.size, V, ignoreIndex);
  const d = newF32(logits.shape, false);
  kernels().crossEntropyBackward(logits.data as Float32Array, targets.i32('crossEntropy'), lse, g.data as Float32Array, d.data as Float32Array, targets.size, V, ignoreIndex);
  return d;
}

// ------------------------------------------------------------ non-differentiable

/** The k largest values along the last dim, sorted descending, with their indices (i32). */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  f32('topk', x);
  const [rows, cols] = rowsCols('topk', x);
  if (!Number.isInteger(k) || k < 1 || k > cols) throw new ShapeError(`topk: k=${k} must be in [1, ${cols}] for ${fmtShape(x.shape)}`);
  const shape = [...x.shape.slice(0, -1), k];
  if (x.gpu) return Dev.topk(x, rows, cols, k, shape);
  const values = newF32(shape);
  const indices = new Tensor(new Int32Array(rows * k), shape);
  kernels().topk(x.data as Float32Array, values.data as Float32Array, indices.data as Int32Array, rows, cols, k);
  return { values, indices };
}

/** Index of the largest value along the last dim (ties: the lower index). */
export function argmax(x: Tensor): Tensor {
  const { indices } = topk(x, 1);
  return viewAs(indices, x.shape.slice(0, -1));
}

// ------------------------------------------------------------ optimizer primitives (in place, never recorded)

/** One AdamW step in place on param and its moment buffers m, v (all the same shape). */
export function adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): void {
  for (const t of [grad, m, v]) {
    if (!sameShape(t.shape, param.shape)) throw new ShapeError(`adamw: ${param.name ?? 'parameter'} ${fmtShape(param.shape)} has a gradient or state of shape ${fmtShape(t.shape)}`);
  }
  if (Dev.onDevice(param, grad, m, v)) return Dev.adamw(param, grad, m, v, p);
  kernels().adamw(param.f32('adamw'), grad.f32('adamw'), m.f32('adamw'), v.f32('adamw'), param.size, p);
}

/**
 * adamwUpdate on each item. On the webgpu device a stack of parameters (the MoE experts' weights,
 * views of one slab) whose gradients and moments are stacked alike is one dispatch (device-ops
 * adamwMany); the values are the same.
 */
export function adamwUpdateMany(items: readonly { param: Tensor; grad: Tensor; m: Tensor; v: Tensor }[], p: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): void {
  for (const { param, grad, m, v } of items) {
    for (const t of [grad, m, v]) {
      if (!sameShape(t.shape, param.shape)) throw new ShapeError(`adamw: ${param.name ?? 'parameter'} ${fmtShape(param.shape)} has a gradient or state of shape ${fmtShape(t.shape)}`);
    }
  }
  if (items.some(({ param, grad, m, v }) => Dev.onDevice(param, grad, m, v))) return Dev.adamwMany(items, p);
  for (const { param, grad, m, v } of items) kernels().adamw(param.f32('adamw'), grad.f32('adamw'), m.f32('adamw'), v.f32('adamw'), param.size, p);
}

/** Σ x² in double precision (host tensors; a device tensor's stays on the device: sumSquaresTensor). */
export function sumSquares(x: Tensor): number {
  if (x.gpu) throw new ShapeError(`sumSquares: ${fmtShape(x.shape)} lives on the webgpu device and this returns a host number; use sumSquaresTensor(x) (a device scalar) and read it with await t.readItem()`);
  return kernels().sumSquares(x.f32('sumSquares'), x.size);
}

/** Σ x² as a scalar tensor on x's device (f32 on webgpu; the host value in double, rounded to f32). */
export function sumSquaresTensor(x: Tensor): Tensor {
  f32('sumSquares', x);
  if (x.gpu) return Dev.sumSquares(x);
  return new Tensor(new Float32Array([kernels().sumSquares(x.data as Float32Array, x.size)]), []);
}

/** x *= s in place. */
export function scaleInPlace(x: Tensor, s: number): void {
  if (x.gpu) return Dev.scaleInPlace(x, s);
  kernels().scale(x.f32('scaleInPlace'), x.size, s);
}

// ------------------------------------------------------------ caches (in place, never recorded)

/**
 * Writes src [B, Tn, ...] into dst [B, Tmax, ...] at per-batch row offsets: dst[b, starts[b] + t] = src[b, t].
 * The KV cache's append. Throws when a write would run past Tmax.
 */
export function writeRows(dst: Tensor, src: Tensor, starts: readonly number[]): void {
  if (dst.rank < 2 || src.rank !== dst.rank || src.shape[0] !== dst.shape[0] || !sameShape(src.shape.slice(2), dst.shape.slice(2)) || starts.length !== dst.shape[0]) {
    throw new ShapeError(`writeRows: src ${fmtShape(src.shape)} does not fit dst ${fmtShape(dst.shape)} with ${starts.length} start offsets`);
  }
  const [B, Tn] = src.shape, Tmax = dst.shape[1];
  const row = sizeOf(src.shape.slice(2));
  for (let b = 0; b < B; b++) {
    const s = starts[b];
    if (!(Number.isInteger(s) && s >= 0 && s + Tn <= Tmax)) throw new ShapeError(`writeRows: rows [${s}, ${s + Tn}) of batch item ${b} do not fit the ${Tmax} rows of ${fmtShape(dst.shape)}`);
  }
  if (Dev.onDevice(dst, src)) return Dev.writeRows(dst, src, starts, B, Tn, Tmax, row);
  for (let b = 0; b < B; b++) {
    (dst.data as Float32Array).set((src.data as Float32Array).subarray(b * Tn * row, (b + 1) * Tn * row), (b * Tmax + starts[b]) * row);
  }
}

// ------------------------------------------------------------ row gather / scatter (MoE token grouping)

/** Rows of x [N, C] at idx (i32 [n]) → [n, C]; differentiable in x (the embedding kernel). */
export function gatherRows(x: Tensor, idx: Tensor): Tensor {
  return embedding(x, idx);
}

/** out [N, C] = Σ over i with idx[i] = r of src[i] (scatter-add of rows); differentiable in src. */
export function scatterRows(src: Tensor, idx: Tensor, N: number): Tensor {
  f32('scatterRows', src);
  if (src.rank !== 2 || idx.size !== src.shape[0]) throw new ShapeError(`scatterRows: src ${fmtShape(src.shape)} needs one index per row, got ${idx.size}`);
  const C = src.shape[1];
  if (Dev.onDevice(src, idx)) return finish('scatterRows', record('scatterRows', Dev.embeddingBackward([N, C], idx, src), [src], { ids: idx }), [src]);
  const out = newF32([N, C]);
  kernels().embeddingBackward(idx.i32('scatterRows'), src.data as Float32Array, out.data as Float32Array, idx.size, C);
  return finish('scatterRows', record('scatterRows', out, [src], { ids: idx }), [src]);
}
