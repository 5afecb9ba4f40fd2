// The tensor engine on the webgpu device: each op's forward value and input gradients on
// device tensors against the same graph on host tensors (the CPU backend), on awkward sizes;
// synchronous reads of device tensors throw naming the async alternative; an op without a
// device kernel throws naming itself; the NaN check mode on the device names the first op whose
// output held NaN or ±Infinity, its first such index and its shapes, at the next readback. Tolerance: the device kernels accumulate in f32 where
// the host accumulates in f32 or double, in another order: 2e-4 relative + 2e-5 absolute
// on values and gradients of O(1) (sums over at most a few hundred terms).
// Skips without an adapter (fails under CI=true), like the other webgpu tests.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.ts';
import { endDeviceStep, moveToDevice, readValues, stepBuffers, toDevice, toHost, useDeviceContext } from '../../src/tensor/device.ts';
import { setLinearCrossEntropyChunkBytes } from '../../src/tensor/device-ops.ts';
import { assertClose, randF32, randI32, rng } from '../helpers.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { gpuOrSkip } from '../backend/webgpu-setup.ts';
import type { Tensor } from '../../src/tensor/index.ts';

after(() => useDeviceContext(null));

async function device(t: TestContext): Promise<boolean> {
  const k = await gpuOrSkip(t);
  if (!k) return false;
  useDeviceContext(k.ctx);
  return true;
}

interface Case {
  name: string;
  /** Shapes of the f32 inputs (all require grad); the graph builds from them (plus fixed host extras). */
  inputs: number[][];
  fn: (xs: Tensor[]) => Tensor;
  scale?: number;
}

/** Runs fn on host and device copies of the same inputs; compares the output and every gradient. */
async function check(c: Case, seed: number): Promise<void> {
  const r = rng(seed);
  const init = c.inputs.map((shape) => randF32(r, shape.reduce((a, b) => a * b, 1), c.scale ?? 1));
  const run = async (onDevice: boolean) => {
    const xs = c.inputs.map((shape, i) => {
      const t = T.tensor(init[i].slice(), shape);
      if (onDevice) moveToDevice([t]);
      return T.parameter(t);
    });
    const y = c.fn(xs);
    const w = T.tensor(randF32(rng(seed + 1), y.size), [...y.shape]); // fixed random cotangent
    const loss = T.sum(T.mul(y, onDevice ? toDevice(w) : w));
    if (y.requiresGrad) loss.backward();
    const grads = xs.filter((x) => x.requiresGrad).map((x) => x.grad!);
    const vals = await readValues([y, ...grads]);
    if (onDevice) endDeviceStep();
    return vals.map((v) => Float32Array.from(v));
  };
  const host = await run(false);
  const dev = await run(true);
  assert.equal(dev.length, host.length);
  host.forEach((h, i) => assertClose(dev[i], h, { rtol: 2e-4, atol: 2e-5, label: `${c.name}: ${i === 0 ? 'output' : `gradient ${i}`}` }));
}

const ids = (n: number, hi: number, seed: number) => T.ids(randI32(rng(seed), n, hi));

const cases: Case[] = [
  { name: 'unary + binary broadcast', inputs: [[3, 7], [7], [3, 1]], fn: ([a, b, c]) => T.add(T.mul(T.tanh(a), b), T.div(T.exp(c), T.add(T.square(b), 1))) },
  { name: 'sub/neg/sigmoid/silu/gelu', inputs: [[33], [33]], fn: ([a, b]) => T.sub(T.gelu(a), T.neg(T.mul(T.sigmoid(b), T.silu(a)))) },
  { name: 'sum/mean/max over axes', inputs: [[4, 5, 3]], fn: ([a]) => T.add(T.add(T.sum(a, [0, 2]), T.mean(a, 1).sum([0]).sum()), T.max(a, [0, 2])) },
  { name: 'matmul batched transA/transB', inputs: [[2, 5, 3], [2, 7, 5]], fn: ([a, b]) => T.matmul(a, b, { transA: true, transB: true }) },
  { name: 'matmul 3-D @ 2-D', inputs: [[2, 3, 17], [17, 9]], fn: ([a, b]) => T.matmul(a, b) },
  { name: 'linear with bias', inputs: [[2, 3, 33], [17, 33], [17]], fn: ([x, w, b]) => T.linear(x, w, b) },
  { name: 'rmsnorm', inputs: [[5, 33], [33]], fn: ([x, w]) => T.rmsnorm(x, w, 1e-5) },
  { name: 'softmax / logSoftmax', inputs: [[3, 67]], fn: ([x]) => T.add(T.softmax(x), T.logSoftmax(x)) },
  { name: 'swiglu', inputs: [[7, 19], [7, 19]], fn: ([g, u]) => T.swiglu(g, u) },
  { name: 'permute / narrow / cat / broadcastTo', inputs: [[2, 3, 5], [2, 3, 2]], fn: ([a, b]) => T.cat([T.narrow(T.permute(a, [1, 0, 2]), 2, 1, 3), T.permute(b, [1, 0, 2])], 2).mul(T.broadcastTo(T.tensor([[[1.5]], [[2]], [[0.5]]]), [3, 1, 5])) },
  {
    name: 'rope (halves, partial rotary)', inputs: [[2, 3, 2, 8]],
    fn: ([x]) => {
      const cos = T.tensor(randF32(rng(9), 16 * 3), [16, 3]), sin = T.tensor(randF32(rng(10), 16 * 3), [16, 3]);
      return T.rope(x, cos, sin, T.ids([0, 5, 2, 7, 1, 15]), { interleaved: false, rotaryDim: 6 });
    },
  },
  { name: 'embedding', inputs: [[11, 9]], fn: ([t]) => T.embedding(t, T.ids([3, 0, 10, 3, 7, 3], [2, 3])) },
  { name: 'attention (causal GQA, Tq < Tk)', inputs: [[2, 5, 4, 8], [2, 9, 2, 8], [2, 9, 2, 6]], fn: ([q, k, v]) => T.attention(q, k, v, { causal: true }) },
  { name: 'attention (causal, square)', inputs: [[1, 70, 2, 16], [1, 70, 2, 16], [1, 70, 2, 16]], fn: ([q, k, v]) => T.attention(q, k, v, { causal: true, qOffset: 0 }), scale: 0.5 },
  {
    name: 'crossEntropy (mean, ignore index)', inputs: [[2, 6, 37]],
    fn: ([l]) => { const t = T.ids(Array.from(randI32(rng(4), 12, 37)).map((v, i) => (i === 5 ? -100 : v)), [2, 6]); return T.crossEntropy(l, t); },
  },
  {
    name: 'linearCrossEntropy', inputs: [[2, 7, 12], [29, 12]],
    fn: ([x, w]) => { const t = T.ids(Array.from(randI32(rng(5), 14, 29)).map((v, i) => (i === 3 ? -100 : v)), [2, 7]); return T.linearCrossEntropy(x, w, t); },
  },
  {
    // 3 rows per chunk (12 bytes × 29 · 3): 14 rows in 5 chunks, the last one short.
    name: 'linearCrossEntropy in row chunks (sum)', inputs: [[2, 7, 12], [29, 12]],
    fn: ([x, w]) => {
      const t = T.ids(Array.from(randI32(rng(6), 14, 29)).map((v, i) => (i === 13 ? -100 : v)), [2, 7]);
      setLinearCrossEntropyChunkBytes(4 * 29 * 3);
      try {
        return T.linearCrossEntropy(x, w, t, { reduction: 'sum' });
      } finally {
        setLinearCrossEntropyChunkBytes(64 << 20);
      }
    },
  },
];

for (const [i, c] of cases.entries()) {
  test(`webgpu ops: ${c.name} — value and gradients match the CPU backend`, async (t) => {
    if (!(await device(t))) return;
    await check(c, 100 + i);
  });
}

test('webgpu ops: a device tensor refuses synchronous reads, naming await t.read(); transfers round-trip', async (t) => {
  if (!(await device(t))) return;
  const h = T.tensor([[1, 2, 3], [4, 5, 6]]);
  const d = toDevice(h);
  assert.equal(d.device, 'webgpu');
  assert.throws(() => d.data, /lives on the webgpu device.*await t\.read\(\)/);
  assert.throws(() => T.sum(d).item(), /cannot be read synchronously/);
  assert.throws(() => d.toArray(), /await t\.read\(\)/);
  assert.throws(() => T.sumSquares(d), /sumSquaresTensor/);
  assert.deepEqual(Array.from((await toHost(T.mul(d, 2))).data), [2, 4, 6, 8, 10, 12]);
  assert.equal(await T.sumSquaresTensor(d).readItem(), 91);
  // The host tensor is untouched, and moving back keeps the tensor's identity.
  const p = T.tensor([1, 2]);
  moveToDevice([p]);
  assert.throws(() => p.data, /webgpu/);
  const { moveToHost } = await import('../../src/tensor/device.ts');
  await moveToHost([p]);
  assert.deepEqual(Array.from(p.data), [1, 2]);
  endDeviceStep();
  assert.equal(stepBuffers(), 0);
});

test('webgpu ops: the NaN check mode names the first device op that produced NaN or Infinity at the next readback', async (t) => {
  if (!(await device(t))) return;
  const { NonFiniteError } = await import('../../src/core/errors.ts');
  T.setCheckNan(true);
  try {
    const x = toDevice(T.tensor([1, -1, 2, -3]));
    // The second mul overflows to ±Infinity; exp passes +Infinity on: that mul is named. (Overflow,
    // not log of a negative: WGSL leaves log's value there indeterminate, and SwiftShader gives log|x|.)
    const y = T.exp(T.mul(T.mul(x, 1e30), 1e30));
    await assert.rejects(readValues([y]), (e: Error) => e instanceof NonFiniteError && /^mul produced Infinity and -Infinity at flat index 0 of its output \[4\] \(inputs \[4\], \[\]\); this is the first op to do so/.test(e.message));
    const z = T.div(toDevice(T.tensor([1, -1, 0, 2])), toDevice(T.tensor([2, 0, 0, 0]))); // -Inf, NaN, +Inf
    await assert.rejects(readValues([z]), (e: Error) => e instanceof NonFiniteError && /^div produced NaN and Infinity and -Infinity at flat index 1 of its output \[4\]/.test(e.message));
    // A clean step after the error reads normally: the status word was cleared with the failed read.
    assert.deepEqual(Array.from((await readValues([T.mul(x, 2)]))[0]), [2, -2, 4, -6]);
    endDeviceStep();
  } finally {
    T.setCheckNan(false);
  }
  // Without the check mode the NaN is read back, not swallowed.
  const [v] = await readValues([T.div(toDevice(T.tensor([0])), toDevice(T.tensor([0])))]);
  assert.ok(Number.isNaN(v[0]));
  endDeviceStep();
});

test('webgpu ops: device rows into a host KV cache buffer throw an R1tsError naming both sides (no silent host round-trip)', async (t) => {
  if (!(await device(t))) return;
  const cache = T.zeros([1, 4, 2]); // a host cache buffer
  assert.throws(() => T.writeRows(cache, toDevice(T.ones([1, 1, 2])), [0]), (e: Error) => e.name === 'R1tsError' && /writeRows.*host.*webgpu/.test(e.message));
  endDeviceStep();
});

test('webgpu ops: AdamW and scaleInPlace on device tensors match the host', async (t) => {
  if (!(await device(t))) return;
  const r = rng(77);
  const p0 = randF32(r, 37), g0 = randF32(r, 37);
  const run = async (dev: boolean) => {
    const p = T.tensor(p0.slice()), g = T.tensor(g0.slice()), m = T.zeros([37]), v = T.zeros([37]);
    if (dev) moveToDevice([p, g, m, v]);
    for (let s = 1; s <= 3; s++) {
      T.adamwUpdate(p, g, m, v, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: s });
      T.scaleInPlace(g, 0.5);
    }
    return (await readValues([p, m, v])).map((x) => Float32Array.from(x));
  };
  const h = await run(false), d = await run(true);
  h.forEach((x, i) => assertClose(d[i], x, { rtol: 1e-5, atol: 1e-6, label: ['param', 'm', 'v'][i] }));
  endDeviceStep();
});

test('webgpu ops: stackOnDevice moves same-shape device tensors into one slab in place (values and identity kept); in-place ops on the views match the host', async (t) => {
  if (!(await device(t))) return;
  const r = rng(78);
  const init = [0, 1, 2].map(() => randF32(r, 37));
  const g0 = randF32(r, 37);
  const run = async (dev: boolean) => {
    const ps = init.map((x) => T.tensor(x.slice()));
    const g = T.tensor(g0.slice()), m = ps.map(() => T.zeros([37])), v = ps.map(() => T.zeros([37]));
    if (dev) {
      moveToDevice([...ps, g, ...m, ...v]);
      assert.equal(T.deviceStackOf(ps), null, 'separate buffers: no stack yet');
      const before = ps.map((p) => p.gpu);
      assert.equal(T.stackOnDevice(ps), true);
      const st = T.deviceStackOf(ps)!;
      assert.ok(st && ps.every((p, i) => p.gpu !== before[i] && p.gpu!.offset === 4 * i * st.stride), 'the same Tensors now view one slab, in order');
      assert.equal(T.stackOnDevice(ps), true, 'already stacked: nothing moves');
      assert.equal(T.deviceStackOf([ps[1], ps[0]]), null, 'out of order is not a stack');
      assert.equal(T.stackOnDevice([T.tensor(new Float32Array(4))]), false, 'a host tensor is not stacked');
      const odd = [toDevice(T.zeros([3])), toDevice(T.zeros([4]))];
      assert.equal(T.stackOnDevice(odd), false, 'different shapes are not stacked');
      assert.equal(T.deviceStackOf(odd), null);
    }
    for (let s = 1; s <= 3; s++) ps.forEach((p, i) => T.adamwUpdate(p, g, m[i], v[i], { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: s }));
    return (await readValues(ps)).map((x) => Float32Array.from(x));
  };
  const h = await run(false), d = await run(true);
  h.forEach((x, i) => assertClose(d[i], x, { rtol: 1e-5, atol: 1e-6, label: `stacked param ${i}` }));
  endDeviceStep();
});

test('webgpu ops: multi-tensor AdamW, sum of squares and rescale (stacks in one dispatch each, with gates) equal the host per tensor', async (t) => {
  if (!(await device(t))) return;
  const ctx = T.deviceContext();
  const r = rng(79);
  const E = 4, size = 37;
  const init = Array.from({ length: E + 2 }, (_, i) => randF32(r, i < E ? size : 11 + i)); // 4 stackable, 2 on their own
  const grads = init.map((x) => randF32(r, x.length));
  const gateVals = Float32Array.from([1, 0, 2, 1]); // expert 1's update is skipped
  const run = async (dev: boolean) => {
    const ps = init.map((x) => T.tensor(x.slice())), gs = grads.map((x) => T.tensor(x.slice()));
    const ms = ps.map((p) => T.zeros(p.shape)), vs = ps.map((p) => T.zeros(p.shape));
    const gate = T.tensor(gateVals.slice());
    const keys: string[] = [];
    if (dev) {
      moveToDevice([...ps, ...gs, ...ms, ...vs, gate]);
      assert.ok(T.stackOnDevice(ps.slice(0, E)) && T.stackOnDevice(gs.slice(0, E)), 'stacked parameters and gradients');
      ps.slice(0, E).forEach((p, e) => T.gateDeviceUpdates([p], gate, e));
      const dispatch = ctx.dispatch;
      ctx.dispatch = (q) => { keys.push(q.key); dispatch.call(ctx, q); };
      try {
        // In a shuffled order: the stack is found by its slab, not by position.
        const order = [4, 2, 0, 5, 3, 1];
        const items = order.map((i) => ({ param: ps[i], grad: gs[i], m: ms[i], v: vs[i] }));
        for (let s = 1; s <= 3; s++) T.adamwUpdateMany(items, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: s });
        const ss = T.deviceSumSquaresMany(order.map((i) => gs[i]));
        T.deviceScaleManyInPlace(order.map((i) => gs[i]), T.toDevice(T.tensor([0.5], [])));
        const vals = await readValues([...ps, ...gs, ss]);
        return { ps: vals.slice(0, E + 2), gs: vals.slice(E + 2, 2 * E + 4), ss: vals[2 * E + 4][0], keys };
      } finally {
        ctx.dispatch = dispatch;
      }
    }
    for (let s = 1; s <= 3; s++) ps.forEach((p, i) => { if (i >= E || gateVals[i] !== 0) T.adamwUpdate(p, gs[i], ms[i], vs[i], { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: s }); });
    const ss = gs.reduce((a, x) => a + T.sumSquares(x), 0);
    gs.forEach((x) => T.scaleInPlace(x, 0.5));
    return { ps: ps.map((p) => p.data), gs: gs.map((x) => x.data), ss, keys };
  };
  const h = await run(false), d = await run(true);
  h.ps.forEach((x, i) => assertClose(d.ps[i] as Float32Array, x as Float32Array, { rtol: 1e-5, atol: 1e-6, label: `parameter ${i}` }));
  assert.deepEqual(d.ps[1], init[1], 'the gated-off stacked parameter is untouched');
  h.gs.forEach((x, i) => assert.deepEqual(d.gs[i], x, `gradient ${i} rescaled in place`));
  assert.ok(Math.abs(d.ss - h.ss) <= 1e-5 * h.ss, `sum of squares ${d.ss} vs ${h.ss}`);
  assert.equal(d.keys.filter((q) => q.startsWith('adamw')).length, 3 * 3, 'per step: one AdamW for the stack, one per other parameter');
  assert.equal(d.keys.filter((q) => q === 'sumSquares:partial').length, 3, 'one partial pass for the stack, one per other tensor');
  assert.equal(d.keys.filter((q) => q === 'sumSquares:total').length, 1, 'one total');
  assert.equal(d.keys.filter((q) => q === 'scaleBy').length, 3, 'one rescale for the stack, one per other tensor');
  endDeviceStep();
});

test('webgpu ops: the optimizer\'s packs (tensors of any shapes in one buffer, in place): AdamW, the sum of squares and the rescale over them are one dispatch each and equal the per-tensor kernels bit for bit', async (t) => {
  if (!(await device(t))) return;
  const ctx = T.deviceContext();
  const r = rng(80);
  const shapes = [[37], [3, 5], [11], [2, 2, 7]];
  const init = shapes.map((sh) => randF32(r, sh.reduce((a, b) => a * b, 1)));
  const grads = [0, 1, 2].map(() => init.map((x) => randF32(r, x.length)));
  const opts = (s: number) => ({ lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: s });
  const run = async (pack: boolean) => {
    const ps = init.map((x, i) => T.tensor(x.slice(), shapes[i]));
    const ms = ps.map((p) => T.zeros(p.shape)), vs = ps.map((p) => T.zeros(p.shape));
    moveToDevice([...ps, ...ms, ...vs]);
    const keys: string[] = [];
    if (pack) {
      const before = ps.map((p) => p.gpu);
      T.packDeviceParams(ps);
      const whole = T.devicePackOf(ps);
      assert.ok(whole && ps.every((p, i) => p.gpu !== before[i] && p.gpu!.offset % ctx.device.limits.minStorageBufferOffsetAlignment === 0), 'the same Tensors now view one pack, at aligned offsets');
      const packed = ps.map((p) => p.gpu);
      T.packDeviceParams(ps);
      assert.ok(ps.every((p, i) => p.gpu === packed[i]), 'already packed: nothing moves');
      assert.equal(T.devicePackOf([ps[1], ps[0], ps[2], ps[3]]), null, 'out of order is not the pack');
      assert.equal(T.devicePackOf(ps.slice(1)), null, 'part of a pack is not the pack');
      assert.equal(T.packOnDevice([T.tensor(new Float32Array(4))]), false, 'a host tensor is not packed');
      const twice = toDevice(T.zeros([3]));
      assert.equal(T.packOnDevice([twice, twice]), false, 'a tensor listed twice is not packed');
      assert.equal(T.packOnDevice([T.add(twice, twice)]), false, 'a step tensor is not packed');
      assert.equal(T.packOnDevice([ps[0]]), false, 'a view of a pack is not packed again');
      T.releaseDevice([twice]);
    }
    const dispatch = ctx.dispatch;
    ctx.dispatch = (q) => { keys.push(q.key); dispatch.call(ctx, q); };
    const sums: Tensor[] = [];
    try {
      for (let s = 1; s <= 3; s++) {
        ps.forEach((p, i) => (p.grad = T.toDevice(T.tensor(grads[s - 1][i].slice(), shapes[i]))));
        if (pack) {
          T.gatherDeviceGrads(ps);
          assert.ok(T.devicePackOf(ps.map((p) => p.grad!)), `step ${s}: the gradients gathered into a pack`);
        }
        const gs = ps.map((p) => p.grad!);
        sums.push(T.deviceSumSquaresMany(gs));
        T.deviceScaleManyInPlace(gs, T.toDevice(T.tensor([0.5], [])));
        T.adamwUpdateMany(ps.map((p, i) => ({ param: p, grad: p.grad!, m: ms[i], v: vs[i] })), opts(s));
      }
      const gaps = pack ? new T.Tensor(T.devicePackOf(ps)!, [T.devicePackOf(ps)!.size]) : null;
      const vals = await readValues([...ps, ...ms, ...vs, ...ps.map((p) => p.grad!), ...sums, ...(gaps ? [gaps] : [])]);
      if (gaps) {
        const covered = new Set(ps.flatMap((p) => Array.from({ length: p.size }, (_, j) => p.gpu!.offset / 4 + j)));
        assert.ok(vals[vals.length - 1].every((x, j) => covered.has(j) || x === 0), 'the gaps between the views stay zero');
      }
      return { tensors: vals.slice(0, 16).map((x) => Float32Array.from(x)), sums: vals.slice(16, 19).map((x) => x[0]), keys };
    } finally {
      ctx.dispatch = dispatch;
      endDeviceStep();
      T.releaseDevice([...ps, ...ms, ...vs]);
    }
  };
  // Runs for the packs: consecutive packable tensors up to the byte limit; others left out.
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const ts = [T.zeros([3]), T.zeros([5]), T.zeros([2]), T.zeros([7]), T.zeros([1])];
  moveToDevice(ts.slice(0, 4));
  const span = (n: number) => Math.ceil((4 * n) / align) * align;
  assert.deepEqual(T.devicePackRuns(ts, span(3) + span(5)), [[0, 1], [2, 3]], 'two per run at a limit of two');
  assert.deepEqual(T.devicePackRuns([...ts, ts[0]]), [[0, 1, 2, 3]], 'one run under the binding limit; the host tensor and the repeat left out');
  assert.deepEqual(T.devicePackRuns(ts, 4), [], 'a tensor alone over the limit is left out');
  T.releaseDevice(ts.slice(0, 4));
  // AdamW packs the parameters that have a gradient: one the loss never reaches stays out, so the pack is whole every step.
  const [pa, pb, unused] = [T.tensor(init[0].slice()), T.tensor(init[2].slice()), T.tensor(init[1].slice())];
  moveToDevice([pa, pb, unused]);
  const opt = new AdamW([pa, unused, pb], { lr: 1e-2 });
  for (let s = 0; s < 2; s++) {
    pa.grad = T.toDevice(T.tensor(grads[s][0].slice()));
    pb.grad = T.toDevice(T.tensor(grads[s][2].slice()));
    opt.step();
    assert.ok(T.devicePackOf([pa, pb]) && T.devicePackOf([pa.grad, pb.grad]) && unused.gpu!.slab === null, `step ${s + 1}: the two with gradients packed, the third left alone`);
    endDeviceStep();
  }
  T.releaseDevice([pa, pb, unused, ...opt.stateTensors()]);
  const each = await run(false), packed = await run(true);
  packed.tensors.forEach((x, i) => assert.deepEqual(x, each.tensors[i], `${['parameter', 'm', 'v', 'gradient'][i >> 2]} ${i % 4}`));
  packed.sums.forEach((x, i) => assert.ok(Math.abs(x - each.sums[i]) <= 1e-6 * each.sums[i], `step ${i + 1}: sum of squares ${x} vs ${each.sums[i]}`));
  for (const [key, n] of [['adamw', 1], ['sumSquares:partial', 1], ['scaleBy', 1]] as const) {
    assert.equal(each.keys.filter((q) => q === key).length, 3 * 4, `${key} per tensor`);
    assert.equal(packed.keys.filter((q) => q === key).length, 3 * n, `${key} once per step over the pack`);
  }
});

test('webgpu ops: a host tensor marked constant (rope tables) is uploaded once per device and kept; an unmarked one is uploaded each step', async (t) => {
  if (!(await device(t))) return;
  const x = toDevice(T.tensor([1, 2, 3]));
  const c = T.tensor([10, 20, 30]), h = T.tensor([10, 20, 30]);
  T.markDeviceConstant(c);
  const step = async () => {
    const [a, b] = await readValues([T.add(x, c), T.add(x, h)]);
    endDeviceStep();
    return [[...a], [...b]];
  };
  assert.deepEqual(await step(), [[11, 22, 33], [11, 22, 33]]);
  (c.data as Float32Array)[0] = 100; // a constant must not change: the device keeps its first upload
  (h.data as Float32Array)[0] = 100;
  assert.deepEqual(await step(), [[11, 22, 33], [101, 22, 33]]);
  T.releaseDevice([x]);
});
