// A whole training step of a tiny language model kept on the device: embedding → RMSNorm → SwiGLU
// MLP (three GEMMs) → cross-entropy, the full backward, and AdamW on every parameter, three steps,
// recorded as one batch per step with one readback (the losses) — the pattern the tensor engine
// will use (src/backend/webgpu/index.ts). The same step written once runs on the reference kernels
// over host arrays; losses and final parameters must agree. Tolerance: every kernel differs from
// the reference by f32 rounding (~1e-6 relative); AdamW's m/√v turns a gradient's relative error
// into at most lr·(that error) per step on parameters, so after three steps at lr 1e-2 parameters
// are held to 1e-4 absolute and losses to 1e-4 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdamWParams, GemmParams } from '../../src/backend/kernels.ts';
import type { GpuTensor } from '../../src/backend/webgpu/tensor.ts';
import { assertClose, randF32, randI32, refKernels, rng } from '../helpers.ts';
import { gpuOrSkip } from './webgpu-setup.ts';

type Gemm = Omit<GemmParams, 'bias'> & { bias: null };
/** The kernels one step uses, over float buffers T and int buffers I (host arrays or device tensors). */
interface Ops<T, I> {
  embedding(table: T, ids: I, out: T, n: number, dim: number): void;
  embeddingBackward(ids: I, dout: T, dtable: T, n: number, dim: number): void;
  rmsnorm(x: T, w: T, out: T, rstd: T, rows: number, cols: number, eps: number): void;
  rmsnormBackward(x: T, w: T, rstd: T, dy: T, dx: T, dw: T, rows: number, cols: number): void;
  gemm(a: T, b: T, c: T, p: Gemm): void;
  swiglu(gate: T, up: T, out: T, n: number): void;
  swigluBackward(gate: T, up: T, dout: T, dgate: T, dup: T, n: number): void;
  crossEntropy(logits: T, targets: I, loss: T, lse: T, rows: number, V: number, ignoreIndex: number): void;
  crossEntropyBackward(logits: T, targets: I, lse: T, dloss: T, dlogits: T, rows: number, V: number, ignoreIndex: number): void;
  adamw(param: T, grad: T, m: T, v: T, n: number, p: AdamWParams): void;
}

const N = 13, V = 29, C = 24, F = 40;

function mm(m: number, n: number, k: number, transA = false, transB = false, beta = 0): Gemm {
  return { batch: 1, m, n, k, transA, transB, alpha: 1, beta, strideA: 0, strideB: 0, strideC: 0, bias: null };
}

interface Model<T> { table: T; wn: T; wg: T; wu: T; wo: T }
const names = ['table', 'wn', 'wg', 'wu', 'wo'] as const;
const sizes = { table: V * C, wn: C, wg: C * F, wu: C * F, wo: F * V };

/** Records one forward + backward + AdamW step; returns the per-row loss buffer. */
function step<T, I>(K: Ops<T, I>, alloc: (n: number) => T, zeros: (n: number) => T, w: Model<T>, m: Model<T>, v: Model<T>, ids: I, targets: I, dloss: T, t: number): T {
  const e = alloc(N * C), h = alloc(N * C), rstd = alloc(N); // [N, C], [N, C], [N]
  const g = alloc(N * F), u = alloc(N * F), a = alloc(N * F); // [N, F] each
  const logits = alloc(N * V), loss = alloc(N), lse = alloc(N); // [N, V], [N], [N]
  K.embedding(w.table, ids, e, N, C);
  K.rmsnorm(e, w.wn, h, rstd, N, C, 1e-5);
  K.gemm(h, w.wg, g, mm(N, F, C));
  K.gemm(h, w.wu, u, mm(N, F, C));
  K.swiglu(g, u, a, N * F);
  K.gemm(a, w.wo, logits, mm(N, V, F));
  K.crossEntropy(logits, targets, loss, lse, N, V, -1);
  const dlogits = alloc(N * V), da = alloc(N * F), dg = alloc(N * F), du = alloc(N * F), dh = alloc(N * C), de = alloc(N * C);
  const grads: Model<T> = { table: zeros(V * C), wn: alloc(C), wg: alloc(C * F), wu: alloc(C * F), wo: alloc(F * V) };
  K.crossEntropyBackward(logits, targets, lse, dloss, dlogits, N, V, -1);
  K.gemm(a, dlogits, grads.wo, mm(F, V, N, true)); // aᵀ·dlogits
  K.gemm(dlogits, w.wo, da, mm(N, F, V, false, true)); // dlogits·woᵀ
  K.swigluBackward(g, u, da, dg, du, N * F);
  K.gemm(h, dg, grads.wg, mm(C, F, N, true));
  K.gemm(h, du, grads.wu, mm(C, F, N, true));
  K.gemm(dg, w.wg, dh, mm(N, C, F, false, true));
  K.gemm(du, w.wu, dh, mm(N, C, F, false, true, 1)); // accumulate
  K.rmsnormBackward(e, w.wn, rstd, dh, de, grads.wn, N, C);
  K.embeddingBackward(ids, de, grads.table, N, C);
  const p: AdamWParams = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: t };
  for (const k of names) K.adamw(w[k], grads[k], m[k], v[k], sizes[k], p);
  return loss;
}

test('webgpu: three training steps of a tiny model on the device match the reference kernels, one submit per step', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  const r = rng(5);
  const init = { table: randF32(r, V * C), wn: randF32(r, C, 0.1).map((x) => 1 + x), wg: randF32(r, C * F, 0.2), wu: randF32(r, C * F, 0.2), wo: randF32(r, F * V, 0.2) };
  const ids = randI32(r, N, V), targets = randI32(r, N, V); // [N] each
  targets[3] = -1; // ignored row
  const dloss = new Float32Array(N).fill(1 / (N - 1)); // mean over the rows that count

  // Host: reference kernels over Float32Arrays.
  const hw = Object.fromEntries(names.map((n) => [n, init[n].slice()])) as unknown as Model<Float32Array>;
  const hm = Object.fromEntries(names.map((n) => [n, new Float32Array(sizes[n])])) as unknown as Model<Float32Array>;
  const hv = Object.fromEntries(names.map((n) => [n, new Float32Array(sizes[n])])) as unknown as Model<Float32Array>;
  const hostLosses: Float32Array[] = [];
  const host: Ops<Float32Array, Int32Array> = refKernels;
  for (let t = 1; t <= 3; t++) hostLosses.push(step(host, (n) => new Float32Array(n), (n) => new Float32Array(n), hw, hm, hv, ids, targets, dloss, t));

  // Device: the same step on GpuTensors; parameters and optimizer state never leave the GPU.
  const ctx = k.ctx;
  const dw = Object.fromEntries(names.map((n) => [n, ctx.upload(init[n])])) as unknown as Model<GpuTensor>;
  const dm = Object.fromEntries(names.map((n) => [n, ctx.upload(new Float32Array(sizes[n]))])) as unknown as Model<GpuTensor>;
  const dv = Object.fromEntries(names.map((n) => [n, ctx.upload(new Float32Array(sizes[n]))])) as unknown as Model<GpuTensor>;
  const [gi, gt, gd] = [ctx.upload(ids), ctx.upload(targets), ctx.upload(dloss)];
  const zeros = new Map<number, Float32Array>();
  const device: Ops<GpuTensor, GpuTensor> = k;
  for (let t = 1; t <= 3; t++) {
    const temps: GpuTensor[] = [];
    const alloc = (n: number) => { const x = ctx.alloc([n]); temps.push(x); return x; };
    // The accumulated gradient starts at zero: uploaded before the step's first dispatch.
    const zero = (n: number) => { const x = ctx.upload(zeros.get(n) ?? zeros.set(n, new Float32Array(n)).get(n)!); temps.push(x); return x; };
    const dtable = zero(V * C);
    const submits = ctx.stats.submits;
    const loss = step(device, alloc, (n) => (n === V * C ? dtable : zero(n)), dw, dm, dv, gi, gt, gd, t);
    const got = (await ctx.read(loss)) as Float32Array;
    assert.equal(ctx.stats.submits, submits + 1, `step ${t}: one submit`);
    assertClose(got, hostLosses[t - 1], { rtol: 1e-4, atol: 1e-5, label: `step ${t} losses` });
    for (const x of temps) ctx.release(x);
  }
  const final = (await ctx.readMany(names.map((n) => dw[n]))) as Float32Array[];
  names.forEach((n, i) => assertClose(final[i], hw[n], { rtol: 0, atol: 1e-4, label: `parameter ${n} after 3 steps` }));
  assert.ok(hostLosses[2].reduce((s, x) => s + x, 0) < hostLosses[0].reduce((s, x) => s + x, 0), 'the loss goes down (the step trains)');
});
