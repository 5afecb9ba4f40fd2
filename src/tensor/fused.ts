// Fused training ops: one autograd node for a whole pre-norm Llama block (denseBlock),
// DeepSeek-V3's MLA naive path (mlaAttention), the routed experts of an MoE layer
// (moeExperts), a SwiGLU MLP (swigluMlp) and a residual add (residualAdd), each with a
// hand-written backward that calls the kernels directly on flat buffers. Against the same
// computation as separate ops it saves the per-op JavaScript, the gradient clones and adds
// the tape makes at residual connections, the layout copies (narrow/cat/broadcast) and the
// allocation of every intermediate: outputs and returned gradients come from the op-output
// pool (ops.ts allocF32), saved activations and backward temporaries from the same f32 pool
// (f32-pool.ts), reused step after step; gradient sums accumulate inside the GEMM (beta = 1), RoPE and its
// inverse run in place.
// What it is not: a general graph fuser, or a path for inference with a KV cache or packed
// rows (the modules keep their op-by-op forward for those, and for eval mode). A fused node
// hands its private buffers back in its backward, so it supports one backward (retainGraph
// through it throws, naming setFusedTraining(false) as the way to run the op-by-op graph).
// Each op is checked against the composition of the plain ops it replaces
// (test/tensor/fused.test.ts) and by finite differences (test/tensor/gradcheck.test.ts).

import type { GemmParams } from '../backend/kernels.ts';
import { rmsnormBackwardAddNative } from '../backend/native/fused.ts';
import { activeBackend, kernels } from '../backend/registry.ts';
import { env } from '../core/env.ts';
import { AutogradError, NonFiniteError, ShapeError, fmtShape } from '../core/errors.ts';
import { isGradEnabled, record } from './autograd.ts';
import { giveF32, takeF32 } from './f32-pool.ts';
import { allocF32 } from './ops.ts';
import { Tensor } from './tensor.ts';

let fusedOn = env.fused();

/** Whether the models take the fused training path (default on; R1TS_FUSED=0 turns it off). For A/B runs and tests. */
export function setFusedTraining(on: boolean): void {
  fusedOn = on;
}
/**
 * Whether the fused training path applies to an input: on, and the input lives on the host (the
 * fused ops run host kernels; on the WebGPU device the models take the op-by-op path, whose
 * every op has a device kernel).
 */
export function fusedTraining(x?: Tensor): boolean {
  return fusedOn && (x === undefined || x.device === 'cpu');
}

// R1TS_CHECK_NAN=1: a fused op checks its output like every plain op (ops.ts finish) and names itself.
const checkNan = env.checkNan();
function finite(op: string, out: Tensor): Tensor {
  if (!checkNan) return out;
  const d = out.data as Float32Array;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) throw new NonFiniteError(`${op} produced ${d[i]} at flat index ${i} of its output ${fmtShape(out.shape)}; this is the first op to do so`);
  }
  return out;
}

const gp: GemmParams = { batch: 1, m: 0, n: 0, k: 0, transA: false, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null };

/** c[m, n] (=|+=) op(a)·op(b) with one product; a, b, c are flat row-major. */
function mm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean, beta = 0): void {
  gp.m = m; gp.n = n; gp.k = k; gp.transA = transA; gp.transB = transB; gp.beta = beta;
  kernels().gemm(a, b, c, gp);
}

/** y [N, O] = x [N, I] · W[O, I]ᵀ (+ y when acc). */
const linFwd = (x: Float32Array, w: Float32Array, y: Float32Array, N: number, I: number, O: number, acc = false) => mm(x, w, y, N, O, I, false, true, acc ? 1 : 0);
/** dx [N, I] (=|+=) dy [N, O] · W [O, I]. */
const linDx = (dy: Float32Array, w: Float32Array, dx: Float32Array, N: number, I: number, O: number, acc = false) => mm(dy, w, dx, N, I, O, false, false, acc ? 1 : 0);
/** dW [O, I] = dyᵀ · x. */
const linDw = (dy: Float32Array, x: Float32Array, dw: Float32Array, N: number, I: number, O: number) => mm(dy, x, dw, O, I, N, true, false, 0);

const strides1 = [1];
/** dst = src over n elements (the native copy runs on the pool; TypedArray.set would not). */
function copyTo(dst: Float32Array, src: Float32Array, n: number): void {
  kernels().copy(src, 0, strides1, dst, 0, strides1, [n]);
}

/** a += b over n elements. */
function addTo(a: Float32Array, b: Float32Array, n: number): void {
  kernels().binary('add', a, strides1, b, strides1, a, [n]);
}

/** dx = res + rmsnorm's dx (one native pass when the addon has it, else rmsnormBackward then an add); dw overwritten. */
function rmsnormBackwardAdd(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, res: Float32Array, dx: Float32Array, dw: Float32Array, rows: number, cols: number): void {
  if (rmsnormBackwardAddNative && activeBackend().name === 'native') return rmsnormBackwardAddNative(x, w, rstd, dy, res, dx, dw, rows, cols);
  kernels().rmsnormBackward(x, w, rstd, dy, dx, dw, rows, cols);
  addTo(dx, res, rows * cols);
}

function need(op: string, t: Tensor, shape: readonly number[], what: string): Float32Array {
  if (t.dtype !== 'f32' || t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${op}: ${what} must be f32 ${fmtShape(shape)}, got ${t.dtype} ${fmtShape(t.shape)}`);
  }
  return t.data as Float32Array;
}

/**
 * Private buffers of one fused node (saved activations, backward temporaries; stale contents
 * unless zeroed), from the engine's f32 pool and given back to it together, never twice.
 */
class Buffers {
  private list: Float32Array[] = [];
  take(n: number, zero = false): Float32Array {
    const a = takeF32(n) ?? new Float32Array(n);
    if (zero) a.fill(0);
    this.list.push(a);
    return a;
  }
  releaseAll(): void {
    for (const a of this.list) giveF32(a);
    this.list = [];
  }
}

/** Whether a fused op should record a node (grad on and some input needs it). */
function recording(inputs: readonly Tensor[]): boolean {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad);
}

function once(name: string): () => void {
  let used = false;
  return () => {
    if (used) throw new AutogradError(`backward: the fused '${name}' node released its activations in the first backward(); retainGraph is not supported through fused training ops (setFusedTraining(false) runs the op-by-op graph)`);
    used = true;
  };
}

/**
 * Records a fused node over `inputs`, or — when nothing needs a gradient — releases the saved
 * activations in `keep` and returns `out` untaped. `body` computes the input gradients from the
 * upstream gradient's data with temporaries from `tmp`; it runs once (a second backward throws),
 * after which the temporaries and the saved activations go back to the f32 pool.
 */
function recordFused(op: string, out: Tensor, inputs: Tensor[], keep: Buffers, body: (gd: Float32Array, needs: boolean[], tmp: Buffers) => (Tensor | null)[]): Tensor {
  if (!recording(inputs)) {
    keep.releaseAll();
    return out;
  }
  const first = once(op);
  const backward = (g: Tensor, needs: boolean[]): (Tensor | null)[] => {
    first();
    const tmp = new Buffers();
    const grads = body(g.data as Float32Array, needs, tmp);
    tmp.releaseAll();
    keep.releaseAll();
    return grads;
  };
  return record('fused', out, inputs, { name: op, backward });
}

/** Gradient tensors shaped like `inputs` (op-output pool, not zeroed: the body writes every element), null where not needed. */
function freshGrads(inputs: readonly Tensor[], needs: readonly boolean[]): (Tensor | null)[] {
  return inputs.map((t, i) => (needs[i] ? new Tensor(allocF32(t.size, false), t.shape) : null));
}

// ------------------------------------------------------------ dense pre-norm block

export interface DenseBlockWeights {
  attnNorm: Tensor; // [C]
  wq: Tensor; // [H·D, C]
  wk: Tensor; // [Hkv·D, C]
  wv: Tensor; // [Hkv·D, C]
  wo: Tensor; // [C, H·D]
  ffnNorm: Tensor; // [C]
  w1: Tensor; // [I, C] gate
  w2: Tensor; // [C, I] down
  w3: Tensor; // [I, C] up
}

export interface DenseBlockOptions {
  H: number;
  Hkv: number;
  D: number;
  eps: number;
  /** RoPE tables [maxPos, rotaryDim/2], positions (i32, B·T), pair layout. */
  cos: Tensor;
  sin: Tensor;
  pos: Tensor;
  rotaryDim: number;
  interleaved: boolean;
}

/**
 * One Llama/Qwen2 pre-norm block without biases, causal over x [B, T, C]:
 *   h = x + Wo·attn(rope(Wq·n1), rope(Wk·n1), Wv·n1),  n1 = rmsnorm(x, attnNorm)
 *   out = h + W2·(silu(W1·n2) ⊙ W3·n2),                n2 = rmsnorm(h, ffnNorm)
 * as one node. Same value as the op-by-op block up to float summation order (the
 * residual adds run inside the output GEMMs).
 */
export function denseBlock(x: Tensor, w: DenseBlockWeights, o: DenseBlockOptions): Tensor {
  const op = 'denseBlock';
  if (x.rank !== 3) throw new ShapeError(`${op}: x must be [B, T, C], got ${fmtShape(x.shape)}`);
  const [B, T, C] = x.shape;
  const { H, Hkv, D, eps } = o;
  const N = B * T, Cq = H * D, Ck = Hkv * D;
  if (!(Hkv > 0 && H % Hkv === 0)) throw new ShapeError(`${op}: ${H} query heads are not a multiple of ${Hkv} key/value heads`);
  const I = w.w1.shape[0];
  const xd = need(op, x, [B, T, C], 'x');
  const an = need(op, w.attnNorm, [C], 'attnNorm'), fnw = need(op, w.ffnNorm, [C], 'ffnNorm');
  const wq = need(op, w.wq, [Cq, C], 'wq'), wk = need(op, w.wk, [Ck, C], 'wk'), wv = need(op, w.wv, [Ck, C], 'wv'), wo = need(op, w.wo, [C, Cq], 'wo');
  const w1 = need(op, w.w1, [I, C], 'w1'), w2 = need(op, w.w2, [C, I], 'w2'), w3 = need(op, w.w3, [I, C], 'w3');
  if (o.pos.dtype !== 'i32' || o.pos.size !== N) throw new ShapeError(`${op}: pos must be i32 with ${N} positions, got ${o.pos.dtype} ${fmtShape(o.pos.shape)}`);
  const k = kernels();
  const keep = new Buffers();
  const pos = o.pos.data as Int32Array, cos = o.cos.data as Float32Array, sin = o.sin.data as Float32Array;
  const ropeP = (heads: number, inverse: boolean) => ({ N, H: heads, D, rotaryDim: o.rotaryDim, interleaved: o.interleaved, inverse });
  const attnP = { B, Tq: T, Tk: T, Hq: H, Hkv, D, Dv: D, scale: 1 / Math.sqrt(D), causal: true, qOffset: 0, qOffsets: null, kvLens: null };

  const n1 = keep.take(N * C), rstd1 = new Float32Array(N); // n1 [N, C]
  k.rmsnorm(xd, an, n1, rstd1, N, C, eps);
  const q = keep.take(N * Cq), kk = keep.take(N * Ck), v = keep.take(N * Ck); // [N, H·D], [N, Hkv·D] ×2
  linFwd(n1, wq, q, N, C, Cq);
  linFwd(n1, wk, kk, N, C, Ck);
  linFwd(n1, wv, v, N, C, Ck);
  k.rope(q, q, cos, sin, pos, ropeP(H, false));
  k.rope(kk, kk, cos, sin, pos, ropeP(Hkv, false));
  const att = keep.take(N * Cq), lse = new Float32Array(B * H * T); // att [B, T, H, D]
  k.attention(q, kk, v, att, lse, attnP);
  const h = keep.take(N * C); // [N, C]
  copyTo(h, xd, N * C);
  linFwd(att, wo, h, N, Cq, C, true);
  const n2 = keep.take(N * C), rstd2 = new Float32Array(N); // [N, C]
  k.rmsnorm(h, fnw, n2, rstd2, N, C, eps);
  const a = keep.take(N * I), b = keep.take(N * I), s = keep.take(N * I); // [N, I] ×3
  linFwd(n2, w1, a, N, C, I);
  linFwd(n2, w3, b, N, C, I);
  k.swiglu(a, b, s, N * I);
  const outD = allocF32(N * C, false); // [B, T, C]
  copyTo(outD, h, N * C);
  linFwd(s, w2, outD, N, I, C, true);
  const out = finite(op, new Tensor(outD, [B, T, C]));

  const inputs = [x, w.attnNorm, w.wq, w.wk, w.wv, w.wo, w.ffnNorm, w.w1, w.w2, w.w3];
  return recordFused(op, out, inputs, keep, (gd, needs, tmp) => {
    const [dx, dAn, dWq, dWk, dWv, dWo, dFn, dW1, dW2, dW3] = freshGrads(inputs, needs);
    // MLP branch: ds = g·W2; dW2 = gᵀ·s; (da, db) = swiglu'; dn2 = da·W1 + db·W3.
    const ds = tmp.take(N * I);
    linDx(gd, w2, ds, N, I, C);
    if (dW2) linDw(gd, s, dW2.data as Float32Array, N, I, C);
    const da = tmp.take(N * I), db = tmp.take(N * I);
    k.swigluBackward(a, b, ds, da, db, N * I);
    const dn2 = tmp.take(N * C);
    linDx(da, w1, dn2, N, C, I);
    linDx(db, w3, dn2, N, C, I, true);
    if (dW1) linDw(da, n2, dW1.data as Float32Array, N, C, I);
    if (dW3) linDw(db, n2, dW3.data as Float32Array, N, C, I);
    // dh = g + rmsnorm'(dn2).
    const dh = tmp.take(N * C), dwF = dFn ? (dFn.data as Float32Array) : tmp.take(C);
    rmsnormBackwardAdd(h, fnw, rstd2, dn2, gd, dh, dwF, N, C);
    // Attention branch: datt = dh·Wo; dWo = dhᵀ·att; dq, dk, dv; inverse RoPE in place.
    const datt = tmp.take(N * Cq);
    linDx(dh, wo, datt, N, Cq, C);
    if (dWo) linDw(dh, att, dWo.data as Float32Array, N, Cq, C);
    const dq = tmp.take(N * Cq), dk = tmp.take(N * Ck), dv = tmp.take(N * Ck); // overwritten by the kernel
    k.attentionBackward(q, kk, v, att, lse, datt, dq, dk, dv, attnP);
    k.rope(dq, dq, cos, sin, pos, ropeP(H, true));
    k.rope(dk, dk, cos, sin, pos, ropeP(Hkv, true));
    const dn1 = tmp.take(N * C);
    linDx(dq, wq, dn1, N, C, Cq);
    linDx(dk, wk, dn1, N, C, Ck, true);
    linDx(dv, wv, dn1, N, C, Ck, true);
    if (dWq) linDw(dq, n1, dWq.data as Float32Array, N, C, Cq);
    if (dWk) linDw(dk, n1, dWk.data as Float32Array, N, C, Ck);
    if (dWv) linDw(dv, n1, dWv.data as Float32Array, N, C, Ck);
    // dx = dh + rmsnorm'(dn1).
    const dxd = dx ? (dx.data as Float32Array) : tmp.take(N * C), dwA = dAn ? (dAn.data as Float32Array) : tmp.take(C);
    if (dx || dAn) {
      rmsnormBackwardAdd(xd, an, rstd1, dn1, dh, dxd, dwA, N, C);
    }
    return [dx, dAn, dWq, dWk, dWv, dWo, dFn, dW1, dW2, dW3];
  });
}

// ------------------------------------------------------------ MoE routed experts

export interface SwigluWeights {
  w1: Tensor; // [I, C] gate
  w2: Tensor; // [C, I] down
  w3: Tensor; // [I, C] up
}

/**
 * The routed experts of an MoE layer as one node: pairs p (token tokenOf[p], expert-sorted, counts[e]
 * pairs for expert e) gather their token's row of x [N, C], run expert e's SwiGLU MLP as one GEMM per
 * weight over the expert's rows, are scaled by their routing weight weights[p] ([N·K, 1]) and summed
 * back onto their token: y [N, C] = Σ_p weights[p] · expert_e(p)(x[tokenOf[p]]).
 * Same value as gatherRows → narrow per expert → MLP → cat → mul → scatterRows, without the per-expert
 * copies and the full-size zero gradients the narrows produce in backward. Experts with no pairs get
 * no gradient (null), as in the op-by-op graph.
 */
export function moeExperts(x: Tensor, weights: Tensor, tokenOf: Int32Array, counts: Int32Array, experts: readonly SwigluWeights[]): Tensor {
  const op = 'moeExperts';
  if (x.rank !== 2) throw new ShapeError(`${op}: x must be [N, C], got ${fmtShape(x.shape)}`);
  const [N, C] = x.shape;
  const P = tokenOf.length, E = experts.length;
  const xd = need(op, x, [N, C], 'x'), wd = need(op, weights, [P, 1], 'weights');
  if (counts.length !== E) throw new ShapeError(`${op}: ${counts.length} expert counts for ${E} experts`);
  let total = 0;
  for (let e = 0; e < E; e++) total += counts[e];
  if (total !== P) throw new ShapeError(`${op}: expert counts sum to ${total}, expected one per pair (${P})`);
  const I = E > 0 ? experts[0].w1.shape[0] : 0;
  const w1 = experts.map((w, e) => need(op, w.w1, [I, C], `experts[${e}].w1`));
  const w2 = experts.map((w, e) => need(op, w.w2, [C, I], `experts[${e}].w2`));
  const w3 = experts.map((w, e) => need(op, w.w3, [I, C], `experts[${e}].w3`));
  const offs = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) offs[e + 1] = offs[e] + counts[e];
  const rows = (buf: Float32Array, e: number, width: number) => buf.subarray(offs[e] * width, offs[e + 1] * width);
  const k = kernels();
  const keep = new Buffers();
  const xs = keep.take(P * C); // [P, C]
  k.embedding(xd, tokenOf, xs, P, C);
  const a = keep.take(P * I), b = keep.take(P * I), s = keep.take(P * I), ys = keep.take(P * C); // [P, I] ×3, [P, C]
  for (let e = 0; e < E; e++) {
    if (!counts[e]) continue;
    linFwd(rows(xs, e, C), w1[e], rows(a, e, I), counts[e], C, I);
    linFwd(rows(xs, e, C), w3[e], rows(b, e, I), counts[e], C, I);
  }
  k.swiglu(a, b, s, P * I);
  for (let e = 0; e < E; e++) if (counts[e]) linFwd(rows(s, e, I), w2[e], rows(ys, e, C), counts[e], I, C);
  const scaled = new Buffers();
  const yw = scaled.take(P * C); // [P, C]
  k.binary('mul', ys, [C, 1], wd, [1, 0], yw, [P, C]);
  const outD = allocF32(N * C); // [N, C], zeroed: a scatter-add target
  k.embeddingBackward(tokenOf, yw, outD, P, C);
  scaled.releaseAll();
  const out = finite(op, new Tensor(outD, [N, C]));

  const inputs = [x, weights, ...experts.map((w) => w.w1), ...experts.map((w) => w.w2), ...experts.map((w) => w.w3)];
  return recordFused(op, out, inputs, keep, (gd, needs, tmp) => {
    const gs = tmp.take(P * C), prod = tmp.take(P * C); // [P, C] ×2
    k.embedding(gd, tokenOf, gs, P, C);
    let dW: Tensor | null = null;
    if (needs[1]) {
      dW = new Tensor(allocF32(P, false), [P, 1]);
      k.binary('mul', gs, [C, 1], ys, [C, 1], prod, [P, C]);
      k.reduce('sum', prod, dW.data as Float32Array, P, C, 1);
    }
    const dys = prod; // [P, C]
    k.binary('mul', gs, [C, 1], wd, [1, 0], dys, [P, C]);
    const wGrad = (t: Tensor, i: number, e: number) => (needs[i] && counts[e] ? new Tensor(allocF32(t.size, false), t.shape) : null);
    const dW1 = experts.map((w, e) => wGrad(w.w1, 2 + e, e));
    const dW2 = experts.map((w, e) => wGrad(w.w2, 2 + E + e, e));
    const dW3 = experts.map((w, e) => wGrad(w.w3, 2 + 2 * E + e, e));
    const ds = tmp.take(P * I), da = tmp.take(P * I), db = tmp.take(P * I); // [P, I] ×3
    for (let e = 0; e < E; e++) {
      if (!counts[e]) continue;
      linDx(rows(dys, e, C), w2[e], rows(ds, e, I), counts[e], I, C);
      if (dW2[e]) linDw(rows(dys, e, C), rows(s, e, I), dW2[e]!.data as Float32Array, counts[e], I, C);
    }
    k.swigluBackward(a, b, ds, da, db, P * I);
    let dx: Tensor | null = null;
    if (needs[0]) {
      const dxs = gs; // [P, C]
      for (let e = 0; e < E; e++) {
        if (!counts[e]) continue;
        linDx(rows(da, e, I), w1[e], rows(dxs, e, C), counts[e], C, I);
        linDx(rows(db, e, I), w3[e], rows(dxs, e, C), counts[e], C, I, true);
      }
      dx = new Tensor(allocF32(N * C), [N, C]); // zeroed: a scatter-add target
      k.embeddingBackward(tokenOf, dxs, dx.data as Float32Array, P, C);
    }
    for (let e = 0; e < E; e++) {
      if (!counts[e]) continue;
      if (dW1[e]) linDw(rows(da, e, I), rows(xs, e, C), dW1[e]!.data as Float32Array, counts[e], C, I);
      if (dW3[e]) linDw(rows(db, e, I), rows(xs, e, C), dW3[e]!.data as Float32Array, counts[e], C, I);
    }
    return [dx, dW, ...dW1, ...dW2, ...dW3];
  });
}

// ------------------------------------------------------------ SwiGLU MLP

/**
 * The SwiGLU feed-forward w2(silu(w1·x) ⊙ w3·x) over x [..., C] as one node (MoE shared experts,
 * DeepSeek-V3's dense layers): its gate, up and product stay private, dx sums both branches inside
 * the GEMM. Same value as the three linears and swiglu, bit for bit in the forward.
 */
export function swigluMlp(x: Tensor, w: SwigluWeights): Tensor {
  const op = 'swigluMlp';
  const C = x.shape[x.rank - 1];
  if (x.rank < 1 || w.w1.rank !== 2) throw new ShapeError(`${op}: x must be [..., C] and w1 [I, C], got ${fmtShape(x.shape)} and ${fmtShape(w.w1.shape)}`);
  const I = w.w1.shape[0];
  const N = x.size / C;
  const xd = need(op, x, x.shape, 'x');
  const w1 = need(op, w.w1, [I, C], 'w1'), w2 = need(op, w.w2, [C, I], 'w2'), w3 = need(op, w.w3, [I, C], 'w3');
  const k = kernels();
  const keep = new Buffers();
  const a = keep.take(N * I), b = keep.take(N * I), s = keep.take(N * I); // [N, I] ×3
  linFwd(xd, w1, a, N, C, I);
  linFwd(xd, w3, b, N, C, I);
  k.swiglu(a, b, s, N * I);
  const outD = allocF32(N * C, false); // [..., C]
  linFwd(s, w2, outD, N, I, C);
  const out = finite(op, new Tensor(outD, x.shape));
  const inputs = [x, w.w1, w.w2, w.w3];
  return recordFused(op, out, inputs, keep, (gd, needs, tmp) => {
    const [dx, dW1, dW2, dW3] = freshGrads(inputs, needs);
    const ds = tmp.take(N * I), da = tmp.take(N * I), db = tmp.take(N * I); // [N, I] ×3
    linDx(gd, w2, ds, N, I, C);
    if (dW2) linDw(gd, s, dW2.data as Float32Array, N, I, C);
    k.swigluBackward(a, b, ds, da, db, N * I);
    if (dx) {
      linDx(da, w1, dx.data as Float32Array, N, C, I);
      linDx(db, w3, dx.data as Float32Array, N, C, I, true);
    }
    if (dW1) linDw(da, xd, dW1.data as Float32Array, N, C, I);
    if (dW3) linDw(db, xd, dW3.data as Float32Array, N, C, I);
    return [dx, dW1, dW2, dW3];
  });
}

// ------------------------------------------------------------ MLA (naive path, training)

export interface MlaWeights {
  wq: Tensor; // [H·(Dn+Dr), C]
  wkvA: Tensor; // [R+Dr, C]
  kvNorm: Tensor; // [R]
  wkvB: Tensor; // [H·(Dn+Dv), R]
  wo: Tensor; // [C, H·Dv]
}

export interface MlaOptions {
  B: number;
  T: number;
  H: number;
  /** kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim. */
  R: number;
  Dn: number;
  Dr: number;
  Dv: number;
  eps: number;
  scale: number;
  cos: Tensor;
  sin: Tensor;
  pos: Tensor;
  interleaved: boolean;
}

/**
 * DeepSeek-V3's MLA (q_lora_rank 0, naive path, causal, no cache) over x [B, T, C] as one node:
 * q = Wq·x, [c_kv ‖ k_pe] = WkvA·x, k_nope ‖ v = WkvB·rmsnorm(c_kv), rotary on q_pe and the shared
 * k_pe, attention, Wo. Inside, each head's q and k keep their rotary dims first ([pe ‖ nope]: a dot
 * product does not depend on the order of its dims), so RoPE runs in place on the GEMM outputs
 * (Wq's rows are reordered per head, a copy of the small weight); c_kv and k_pe come from separate
 * GEMMs over WkvA's row blocks. Same value as mla.ts's naive path up to float summation order.
 */
export function mlaAttention(x: Tensor, w: MlaWeights, o: MlaOptions): Tensor {
  const op = 'mlaAttention';
  const { B, T, H, R, Dn, Dr, Dv, eps } = o;
  const C = x.shape[x.rank - 1];
  const N = B * T, Dq = Dn + Dr, Du = Dn + Dv;
  const xd = need(op, x, [B, T, C], 'x');
  const wq = need(op, w.wq, [H * Dq, C], 'wq'), wkvA = need(op, w.wkvA, [R + Dr, C], 'wkvA'), kvn = need(op, w.kvNorm, [R], 'kvNorm');
  const wkvB = need(op, w.wkvB, [H * Du, R], 'wkvB'), wo = need(op, w.wo, [C, H * Dv], 'wo');
  if (o.pos.dtype !== 'i32' || o.pos.size !== N) throw new ShapeError(`${op}: pos must be i32 with ${N} positions, got ${o.pos.dtype} ${fmtShape(o.pos.shape)}`);
  const k = kernels();
  const keep = new Buffers();
  const pos = o.pos.data as Int32Array, cos = o.cos.data as Float32Array, sin = o.sin.data as Float32Array;
  const ropeP = (heads: number, D: number, inverse: boolean) => ({ N, H: heads, D, rotaryDim: Dr, interleaved: o.interleaved, inverse });
  const wA1 = wkvA.subarray(0, R * C), wA2 = wkvA.subarray(R * C); // [R, C], [Dr, C]
  // Wq with each head's rows reordered to [pe ‖ nope].
  const wqP = keep.take(H * Dq * C); // [H·Dq, C]
  for (let h = 0; h < H; h++) {
    wqP.set(wq.subarray((h * Dq + Dn) * C, (h + 1) * Dq * C), h * Dq * C);
    wqP.set(wq.subarray(h * Dq * C, (h * Dq + Dn) * C), (h * Dq + Dr) * C);
  }
  const q = keep.take(N * H * Dq); // [N, H, Dr+Dn]
  linFwd(xd, wqP, q, N, C, H * Dq);
  k.rope(q, q, cos, sin, pos, ropeP(H, Dq, false));
  const c = keep.take(N * R), pe = keep.take(N * Dr); // [N, R], [N, Dr]
  linFwd(xd, wA1, c, N, C, R);
  linFwd(xd, wA2, pe, N, C, Dr);
  k.rope(pe, pe, cos, sin, pos, ropeP(1, Dr, false));
  const cn = keep.take(N * R), rstd = new Float32Array(N); // [N, R]
  k.rmsnorm(c, kvn, cn, rstd, N, R, eps);
  const up = new Buffers();
  const kvUp = up.take(N * H * Du); // [N, H, Dn+Dv]
  linFwd(cn, wkvB, kvUp, N, R, H * Du);
  const kf = keep.take(N * H * Dq), v = keep.take(N * H * Dv); // [N, H, Dr+Dn], [N, H, Dv]
  k.copy(pe, 0, [Dr, 0, 1], kf, 0, [H * Dq, Dq, 1], [N, H, Dr]);
  k.copy(kvUp, 0, [H * Du, Du, 1], kf, Dr, [H * Dq, Dq, 1], [N, H, Dn]);
  k.copy(kvUp, Dn, [H * Du, Du, 1], v, 0, [H * Dv, Dv, 1], [N, H, Dv]);
  up.releaseAll();
  const attnP = { B, Tq: T, Tk: T, Hq: H, Hkv: H, D: Dq, Dv, scale: o.scale, causal: true, qOffset: 0, qOffsets: null, kvLens: null };
  const att = keep.take(N * H * Dv), lse = new Float32Array(B * H * T); // [N, H, Dv]
  k.attention(q, kf, v, att, lse, attnP);
  const outD = allocF32(N * C, false); // [B, T, C]
  linFwd(att, wo, outD, N, H * Dv, C);
  const out = finite(op, new Tensor(outD, [B, T, C]));

  const inputs = [x, w.wq, w.wkvA, w.kvNorm, w.wkvB, w.wo];
  return recordFused(op, out, inputs, keep, (gd, needs, tmp) => {
    const [dx, dWq, dWkvA, dKvn, dWkvB, dWo] = freshGrads(inputs, needs);
    const datt = tmp.take(N * H * Dv); // [N, H·Dv]
    linDx(gd, wo, datt, N, H * Dv, C);
    if (dWo) linDw(gd, att, dWo.data as Float32Array, N, H * Dv, C);
    const dq = tmp.take(N * H * Dq), dkf = tmp.take(N * H * Dq), dv = tmp.take(N * H * Dv); // overwritten by the kernel
    k.attentionBackward(q, kf, v, att, lse, datt, dq, dkf, dv, attnP);
    k.rope(dq, dq, cos, sin, pos, ropeP(H, Dq, true));
    // k_nope ‖ v gradients back into WkvB's output layout; k_pe's summed over heads.
    const dUp = tmp.take(N * H * Du); // [N, H, Dn+Dv]
    k.copy(dkf, Dr, [H * Dq, Dq, 1], dUp, 0, [H * Du, Du, 1], [N, H, Dn]);
    k.copy(dv, 0, [H * Dv, Dv, 1], dUp, Dn, [H * Du, Du, 1], [N, H, Dv]);
    const dkSum = tmp.take(N * Dq), dpe = tmp.take(N * Dr); // [N, Dr+Dn], [N, Dr]
    k.reduce('sum', dkf, dkSum, N, H, Dq);
    k.copy(dkSum, 0, [Dq, 1], dpe, 0, [Dr, 1], [N, Dr]);
    k.rope(dpe, dpe, cos, sin, pos, ropeP(1, Dr, true));
    const dcn = tmp.take(N * R); // [N, R]
    linDx(dUp, wkvB, dcn, N, R, H * Du);
    if (dWkvB) linDw(dUp, cn, dWkvB.data as Float32Array, N, R, H * Du);
    const dc = tmp.take(N * R), dkvn = dKvn ? (dKvn.data as Float32Array) : tmp.take(R); // [N, R]
    k.rmsnormBackward(c, kvn, rstd, dcn, dc, dkvn, N, R);
    if (dx) {
      const dxd = dx.data as Float32Array;
      linDx(dq, wqP, dxd, N, C, H * Dq);
      linDx(dc, wA1, dxd, N, C, R, true);
      linDx(dpe, wA2, dxd, N, C, Dr, true);
    }
    if (dWq) {
      const dqP = tmp.take(H * Dq * C); // [H·Dq, C] in the reordered rows
      linDw(dq, xd, dqP, N, C, H * Dq);
      const dwq = dWq.data as Float32Array;
      for (let h = 0; h < H; h++) {
        dwq.set(dqP.subarray(h * Dq * C, (h * Dq + Dr) * C), (h * Dq + Dn) * C);
        dwq.set(dqP.subarray((h * Dq + Dr) * C, (h + 1) * Dq * C), h * Dq * C);
      }
    }
    if (dWkvA) {
      const dwa = dWkvA.data as Float32Array;
      linDw(dc, xd, dwa.subarray(0, R * C), N, C, R);
      linDw(dpe, xd, dwa.subarray(R * C), N, C, Dr);
    }
    return [dx, dWq, dWkvA, dKvn, dWkvB, dWo];
  });
}

// ------------------------------------------------------------ residual add

/**
 * x + y for a residual connection (same shapes). The plain add hands its upstream gradient to both
 * inputs, so the tape later clones it (fresh memory) to accumulate the residual stream's other
 * gradient into; here the backward gives x its own copy from the op-output pool instead. Same value
 * and gradients as add, bit for bit.
 */
export function residualAdd(x: Tensor, y: Tensor): Tensor {
  const op = 'residualAdd';
  const xd = need(op, x, x.shape, 'x'), yd = need(op, y, x.shape, 'y');
  const outD = allocF32(x.size, false); // x.shape
  kernels().binary('add', xd, strides1, yd, strides1, outD, [x.size]);
  const out = finite(op, new Tensor(outD, x.shape));
  const inputs = [x, y];
  if (!recording(inputs)) return out;
  const backward = (g: Tensor, needs: boolean[]): (Tensor | null)[] => {
    if (!needs[0]) return [null, g];
    const gx = allocF32(g.size, false);
    copyTo(gx, g.data as Float32Array, g.size);
    return [new Tensor(gx, x.shape), needs[1] ? g : null];
  };
  return record('fused', out, inputs, { name: op, backward });
}
