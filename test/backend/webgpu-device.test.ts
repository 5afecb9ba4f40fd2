// The WebGPU device layer (src/backend/webgpu/device.ts): pipelines compile once per kernel
// specialization, a batch of dispatches is one submit, released buffers are reused from the
// pool only after the batch that used them was submitted, a released tensor cannot be used,
// and a shader-level mistake surfaces as an R1tsError at the next read; a buffer retired
// mid-batch is reused by later in-batch outputs only; a stack's views (allocStack) bind, write,
// clear, copy and read only their own span, a dispatch that writes a buffer it binds twice is
// refused naming the kernel, a slab is pooled with its last view, and a discarded buffer is not
// pooled; uniform blocks go to an arena written once per batch (more than one chunk of it
// included), a repeated batch reuses its bind groups, and setAutoFlush(n) submits every n
// dispatches with the same results; the pool hands out buffers in one order, whatever the order
// of the releases. Also the adapter report,
// and that the device layer covers every kernel name of the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebGpuKernels } from '../../src/backend/webgpu/index.ts';
import { refKernels } from '../helpers.ts';
import { gpuOrSkip, readF32 } from './webgpu-setup.ts';

test('webgpu adapter report names the adapter and says whether it is software', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const a = k.ctx.adapter;
  assert.ok(`${a.vendor}${a.device}${a.description}`.length > 0);
  assert.equal(typeof a.software, 'boolean');
  if (/llvmpipe/i.test(a.description + a.device)) assert.equal(a.software, true);
  assert.match(k.ctx.describe(), /^webgpu /);
});

test('webgpu: pipelines are cached, a batch is one submit, the pool recycles after the submit', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const s = k.ctx.stats;
  const x = k.ctx.upload(new Float32Array([1, 2, 3])); // [3]
  const y = k.ctx.alloc([3]);
  k.unary('neg', x, y, 3);
  await k.ctx.read(y);
  const compiled = s.pipelinesCompiled, submits = s.submits;
  for (let i = 0; i < 5; i++) { k.unary('neg', y, y, 3); k.unary('neg', x, y, 3); }
  assert.equal(s.submits, submits, 'recording must not submit');
  assert.deepEqual([...await readF32(k, y)], [-1, -2, -3]);
  assert.equal(s.submits, submits + 1, 'one read: one submit');
  assert.equal(s.pipelinesCompiled, compiled + 1, 'only the in-place neg was new');

  // Released during a batch: not handed out again until that batch is submitted.
  const a = k.ctx.alloc([1000]);
  k.unary('neg', x, a, 3);
  k.ctx.release(a);
  const b = k.ctx.alloc([1000]);
  assert.notEqual(b.buffer, a.buffer);
  k.ctx.flush();
  const c = k.ctx.alloc([1000]);
  assert.equal(c.buffer, a.buffer, 'recycled after the submit');
  assert.throws(() => k.unary('neg', a, y, 3), /used after release/);
  k.ctx.release(b); k.ctx.release(c);
});

test('webgpu: uniform blocks share an arena written once per batch, past one chunk; a repeated batch reuses its bind groups; auto-flush submits every n dispatches; the pool order is fixed', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const s = k.ctx.stats;
  // 600 dispatches in one batch, each with its own uniform block (a different factor): more than one
  // 64 KB chunk of the arena at 256-byte slots. Each factor is applied in order, so one slot read
  // from another dispatch (or a chunk written after the wrong batch) changes the product.
  const factors = Array.from({ length: 600 }, (_, i) => 1 + ((i * 37) % 11) / 64);
  const run = async () => {
    const x = k.ctx.upload(new Float32Array([1, -2, 3]));
    for (const f of factors) k.scale(x, 3, f);
    const got = await readF32(k, x);
    k.ctx.release(x);
    return got;
  };
  // x after the scales, in f32 as the kernels round.
  const scaled = () => [1, -2, 3].map((v) => factors.reduce((acc, f) => Math.fround(acc * f), v));
  const expected = scaled();
  const first = await run();
  assert.deepEqual([...first], expected);
  const created = s.bindGroupsCreated, buffers = s.buffersCreated;
  // The same batch again: the same pooled buffer, the same arena slots, so no new bind group or buffer.
  const second = await run();
  assert.deepEqual([...second], expected);
  assert.equal(s.bindGroupsCreated, created, 'a repeated batch creates no bind group');
  assert.equal(s.buffersCreated, buffers, 'nor a buffer (the arena chunks are reused)');
  // Other factors in the same slots: the arena's new contents reach the kernels.
  factors.reverse();
  factors[0] = 2;
  const third = await run();
  const expected3 = scaled();
  assert.deepEqual([...third], expected3);
  // Submitted on its own every 7 dispatches (setAutoFlush): 85 submits while recording, the same result.
  const submits = s.submits;
  k.ctx.setAutoFlush(7);
  try {
    const x = k.ctx.upload(new Float32Array([1, -2, 3]));
    for (const f of factors) k.scale(x, 3, f);
    assert.equal(s.submits, submits + Math.floor(factors.length / 7));
    assert.deepEqual([...await readF32(k, x)], expected3);
    k.ctx.release(x);
  } finally {
    k.ctx.setAutoFlush(0);
  }
  assert.throws(() => k.ctx.setAutoFlush(-1), /whole number of dispatches/);
  // The pool hands out its buffers in one order whatever the order they came back in, so a step
  // that releases in another order than the last still gets the same buffers (and bind groups).
  const q = [k.ctx.alloc([100]), k.ctx.alloc([100]), k.ctx.alloc([100])];
  const handed = q.map((t) => t.buffer);
  for (const t of q) k.ctx.release(t);
  const again = [k.ctx.alloc([100]), k.ctx.alloc([100]), k.ctx.alloc([100])];
  // (Indexes into handed: deepEqual would call any two GPUBuffer objects equal.)
  assert.deepEqual(again.map((t) => handed.indexOf(t.buffer)), [0, 1, 2], 'the same buffers in the same order');
  for (const t of [again[1], again[2], again[0]]) k.ctx.release(t);
  const afterShuffle = [k.ctx.alloc([100]), k.ctx.alloc([100]), k.ctx.alloc([100])];
  assert.deepEqual(afterShuffle.map((t) => handed.indexOf(t.buffer)), [0, 1, 2], 'whatever the order of the releases');
  for (const t of afterShuffle) k.ctx.release(t);
});

test('webgpu: a shader error surfaces as an R1tsError at the next read, then the context works again', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const x = k.ctx.upload(new Float32Array([1, 2]));
  k.ctx.dispatch({ key: 'broken', wgsl: () => 'this is not wgsl', buffers: [x], uniforms: null, groups: [1, 1, 1] });
  await assert.rejects(k.ctx.read(x), /WebGPU reported an error/);
  const y = k.ctx.alloc([2]);
  k.unary('square', x, y, 2);
  assert.deepEqual([...await readF32(k, y)], [1, 4]);
});

test('webgpu: every kernel of the contract (src/backend/kernels.ts) has a device counterpart', () => {
  const missing = Object.keys(refKernels).filter((name) => typeof (WebGpuKernels.prototype as unknown as Record<string, unknown>)[name] !== 'function');
  assert.deepEqual(missing, []);
});

test('webgpu: a buffer retired mid-batch is reused by a later in-batch output (in recording order), never by an upload; clear() zeroes in order', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const ctx = k.ctx;
  await ctx.sync();
  const a = ctx.upload(new Float32Array([1, 2, 3])), b = ctx.alloc([3]);
  k.unary('exp', a, b, 3); // b = exp(a)
  const c = ctx.alloc([3]);
  k.unary('neg', b, c, 3); // c = -exp(a): b's last reader
  const bBuf = b.buffer;
  ctx.retire(b);
  assert.throws(() => k.unary('neg', b, c, 3), /used after release/);
  const up = ctx.upload(new Float32Array([7, 7, 7]));
  assert.notEqual(up.buffer, bBuf, 'an upload never gets a buffer retired in the open batch');
  const reuses = ctx.stats.batchReuses;
  const d = ctx.alloc([3], 'f32', true);
  assert.equal(d.buffer, bBuf, 'the in-batch allocation reuses the retired buffer');
  assert.equal(ctx.stats.batchReuses, reuses + 1);
  k.unary('square', c, d, 3); // overwrites b's old buffer after c was computed from it
  const z = ctx.alloc([3], 'f32', true);
  k.unary('abs', up, z, 3);
  ctx.clear(z); // recorded after the abs: z ends as zeros
  const [cv, dv, uv, zv] = (await ctx.readMany([c, d, up, z])) as Float32Array[];
  const e = [1, 2, 3].map((x) => -Math.exp(x));
  e.forEach((x, i) => {
    assert.ok(Math.abs(cv[i] - x) < 1e-4 * Math.abs(x));
    assert.ok(Math.abs(dv[i] - x * x) < 1e-4 * x * x);
  });
  assert.deepEqual(Array.from(uv), [7, 7, 7]);
  assert.deepEqual(Array.from(zv), [0, 0, 0]);
  for (const x of [a, c, d, up, z]) ctx.release(x);
});

test('webgpu: a stack\'s views (allocStack) each bind, write, clear, copy and read only their own span; the slab returns to the pool with its last view', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const ctx = k.ctx;
  const { views, whole, stride } = ctx.allocStack(3, [2, 5]); // 10 values each
  assert.equal(stride % (ctx.device.limits.minStorageBufferOffsetAlignment / 4), 0, 'views start on the binding alignment');
  assert.ok(stride >= 10 && views.every((v, i) => v.offset === 4 * i * stride && v.buffer === views[0].buffer));
  ctx.write(views[0], Float32Array.from({ length: 10 }, (_, i) => i + 1));
  ctx.write(views[1], new Float32Array(10).fill(-1));
  ctx.write(views[2], new Float32Array(10).fill(-2));
  // WebGPU checks a dispatch's usage per buffer: reading one view while writing another of the same slab is refused, naming the kernel.
  assert.throws(() => k.unary('neg', views[0], views[2], 10), /webgpu unary:neg:0: one buffer is bound at bindings 1 and 2 and written through 2/);
  const extra = ctx.upload(Float32Array.from({ length: 10 }, (_, i) => i + 1));
  k.unary('neg', extra, views[2], 10); // a kernel writes one view only
  k.unary('abs', views[0], views[0], 10); // in place on a view
  ctx.clear(views[1]);
  ctx.write(extra, new Float32Array(10).fill(5));
  ctx.copy(extra, views[1]);
  const [v0, v1, v2, all] = (await ctx.readMany([...views, whole])) as Float32Array[];
  assert.deepEqual([...v0], Array.from({ length: 10 }, (_, i) => i + 1));
  assert.deepEqual([...v1], new Array(10).fill(5));
  assert.deepEqual([...v2], Array.from({ length: 10 }, (_, i) => -(i + 1)));
  assert.deepEqual([...all.subarray(2 * stride, 2 * stride + 10)], [...v2], 'the whole slab holds view 2 at 2·stride');
  // The slab is pooled only once every view is released, and after the batch's submit.
  const created = ctx.stats.buffersCreated;
  ctx.release(views[0]); ctx.release(views[1]);
  assert.throws(() => k.unary('neg', views[0], views[2], 10), /used after release/);
  ctx.flush();
  const other = ctx.allocStack(3, [2, 5]);
  assert.notEqual(other.views[0].buffer, views[0].buffer, 'a live view keeps its slab out of the pool');
  ctx.release(views[2]);
  ctx.flush();
  const again = ctx.allocStack(3, [2, 5]);
  assert.equal(again.views[0].buffer, views[0].buffer, 'the last view\'s release pooled the slab');
  assert.equal(ctx.stats.buffersCreated, created + 1);
  assert.throws(() => ctx.allocStack(0, [4]), /at least one/);
  // A discarded buffer is destroyed after the submit, never handed out again.
  const gone = ctx.alloc([10]);
  ctx.discard(gone);
  assert.throws(() => k.unary('neg', gone, extra, 10), /used after release/);
  ctx.flush();
  const fresh = ctx.alloc([10]);
  assert.notEqual(fresh.buffer, gone.buffer, 'a discarded buffer is not pooled');
  ctx.release(fresh);
  for (const v of [...other.views, ...again.views]) ctx.release(v);
  ctx.release(extra);
});
