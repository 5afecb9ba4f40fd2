// DeepSeekMoE on the webgpu device against the host: the device selection mask equals the
// host's select() (sigmoid + bias, and softmax with group-limited routing, with and without
// a bias); a tiny DeepSeek-V3 (MLA, one dense then MoE layers, a shared expert, MTP, the
// sequence-wise balance loss) trained 3 steps with AdamW and the auxiliary-loss-free bias
// update on the device matches the same run on the CPU: losses within 1e-4 relative, the
// expert loads equal (token counts: the same routing), the router biases equal after the
// updates (to 1e-8: see below), parameters within 5e-4 absolute (tolerances as in
// webgpu-train.test.ts: f32 summation order through AdamW at lr 1e-2), including the experts
// no token chose in a step (gated AdamW on the device, no update on the host); one submit per step (the bias update reads
// nothing back inside the step; the experts' AdamW and clipping rescale run one dispatch per
// stack of weights, not per expert). Greedy generation of that model on the device equals the CPU's.
// The sparse (dropless) dispatch alone: a MoE layer's output and every gradient (input, gate,
// each expert's three weights) equal the host's grouped path, with experts owning several row
// tiles, experts no token chose, group-limited softmax routing and sigmoid routing with a
// scale. By default each expert GEMM is one dispatch for all experts (their weights stacked in a
// slab, their gradients views of one): 9 GEMM dispatches per layer, and bit for bit the values
// of one dispatch per expert (setMoeDispatch('per-expert'), 9E), which is also what a slab over
// the binding limit falls back to; the weights survive the stacking
// and the trip back to the host unchanged; the dense dispatch gives the same values; a mask with
// ties keeps each token's first K experts. With f16 expert weights (`--dtype f16`) the grouped
// dispatch gives the dense dispatch's logits and the per-expert dispatch's bits.
// Skips without an adapter (fails under CI=true).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/engine/generate.ts';
import { moePreset } from '../../src/models/config.ts';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import { Gate, MoE, setMoeDispatch, type MoEConfig, type MoeDispatch } from '../../src/nn/moe.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { clipGradNorm, clipGradNormTensor } from '../../src/optim/clip.ts';
import * as T from '../../src/tensor/index.ts';
import { balanceRouterOnDevice, expertLoadFigures } from '../../src/train/expert-load.ts';
import { assertClose } from '../helpers.ts';
import { gpuOrSkip } from '../backend/webgpu-setup.ts';
import { moePlanRows } from '../../src/backend/webgpu/moe.ts';

after(() => T.useDeviceContext(null));

const V = 59, B = 2, Tn = 10;

function tinyMoE(): DeepseekV3 {
  const cfg = { ...moePreset(3, V, 32), hidden_size: 64, aux_loss_alpha: 0.01, bias_update_speed: 0.01 };
  return new DeepseekV3(cfg, new Rng(8));
}

test('webgpu: the device routing mask equals the host selection (sigmoid + bias; softmax, group-limited, with and without bias)', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const base: MoEConfig = { dim: 8, nRoutedExperts: 12, nSharedExperts: 0, topK: 3, nGroup: 1, topkGroup: 1, routeScale: 1, scoringFunc: 'sigmoid', moeInterDim: 4, gateBias: true, auxLossAlpha: 0 };
  const r = new Rng(21);
  for (const cfg of [base, { ...base, scoringFunc: 'softmax' as const, nGroup: 4, topkGroup: 2 }, { ...base, scoringFunc: 'softmax' as const, nGroup: 3, topkGroup: 2, gateBias: false }]) {
    const gate = new Gate(cfg, r);
    if (gate.bias) (gate.bias.data as Float32Array).set(Float32Array.from({ length: 12 }, () => 0.05 * r.normal()));
    const N = 37;
    const s = T.tensor(Float32Array.from({ length: N * 12 }, () => r.uniform()), [N, 12]);
    const want = gate.select(s.data as Float32Array, N);
    T.moveToDevice(gate.namedTensors().map(([, t]) => t));
    const [mask] = await T.readValues([gate.selectMask(T.toDevice(s))]);
    for (let n = 0; n < N; n++) {
      const got = [...mask.subarray(n * 12, (n + 1) * 12)].flatMap((v, e) => (v ? [e] : []));
      assert.deepEqual(got, [...want.subarray(n * 3, (n + 1) * 3)].sort((a, b) => a - b), `${cfg.scoringFunc}/groups ${cfg.nGroup}: token ${n}`);
    }
    T.endDeviceStep();
  }
});

test('webgpu: a tiny DeepSeek-V3 MoE trained on the device (bias update there) matches the CPU; one submit per step; greedy generation equal', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const r = new Rng(12);
  const x = Int32Array.from({ length: B * Tn }, () => r.int(V)), y = Int32Array.from({ length: B * Tn }, () => r.int(V));
  const run = async (dev: boolean) => {
    const model = tinyMoE();
    assert.ok(model.moeLayers().length >= 2 && model.moeLayers().every((m) => m.gate.bias));
    if (dev) T.moveToDevice(model.namedTensors().map(([, t]) => t));
    const params = model.parameters();
    const opt = new AdamW(params, { lr: 1e-2, beta1: 0.9, beta2: 0.95, weightDecay: 0.1 });
    const losses: number[] = [], loads: number[][][] = [];
    for (let s = 0; s < 3; s++) {
      opt.zeroGrad();
      const submits: number = k.ctx.stats.submits;
      const { loss } = model.loss(T.ids(x, [B, Tn]), T.ids(y, [B, Tn]));
      loss.backward();
      if (dev) {
        const keys: string[] = [];
        const dispatch = k.ctx.dispatch;
        k.ctx.dispatch = (q) => { keys.push(q.key); dispatch.call(k.ctx, q); };
        const norm = clipGradNormTensor(params, 1);
        opt.step();
        k.ctx.dispatch = dispatch;
        // The experts' weights, gradients and moments are stacked: each layer's w1, w2 and w3 take one AdamW and one rescale for all experts;
        // every other parameter is in one pack (the optimizer's first step makes it; the clip before it rescales them one by one),
        // with its gradients and moments: one AdamW and one rescale.
        const L = model.moeLayers().length, E = model.moeLayers()[0].cfg.nRoutedExperts;
        assert.equal(keys.filter((q) => q.startsWith('adamw')).length, 1 + 3 * L, `step ${s}: AdamW dispatches`);
        assert.equal(keys.filter((q) => q === 'scaleBy').length, s === 0 ? params.length - 3 * E * L + 3 * L : 1 + 3 * L, `step ${s}: rescale dispatches`);
        const { figures, values } = await balanceRouterOnDevice(model, [loss, norm]);
        T.endDeviceStep();
        assert.equal(k.ctx.stats.submits, submits + 1, 'one submit per step');
        losses.push(values[0][0]);
        loads.push(figures.expert_load);
      } else {
        clipGradNorm(params, 1);
        opt.step();
        losses.push(loss.item());
        loads.push(expertLoadFigures(model.updateRouterBiases()).expert_load);
      }
    }
    const [want] = await new Engine(model, { maxBatch: 2 }).generate([{ prompt: [1, 2, 3, 4], maxTokens: 6, sampling: { temperature: 0 } }]);
    if (dev) await T.moveToHost(model.namedTensors().map(([, t]) => t));
    return { losses, loads, tokens: want.tokens, biases: model.moeLayers().map((m) => Float32Array.from(m.gate.bias!.data as Float32Array)), params: params.map((p) => Float32Array.from(p.data as Float32Array)) };
  };
  const h = await run(false);
  const d = await run(true);
  h.losses.forEach((l, i) => assert.ok(Math.abs(d.losses[i] - l) <= 1e-4 * Math.abs(l), `step ${i}: loss webgpu ${d.losses[i]} vs cpu ${l}`));
  assert.ok(h.losses[2] < h.losses[0], `the loss falls: ${h.losses}`);
  assert.deepEqual(d.loads, h.loads, 'the same routing: equal expert loads every step');
  // Some expert got no token in some step: the host gives it no gradient (AdamW skips it); the device
  // gives it a zero gradient and gates its AdamW step on its load — the parameters below check that.
  assert.ok(h.loads.some((l) => l.some((row) => row.some((v) => v === 0))), `an unrouted expert somewhere: ${JSON.stringify(h.loads)}`);
  // The host adds γ (a double) into the f32 bias; the device adds f32(γ): ±γ steps that cancel leave ~1e-10 on the host, 0 here.
  h.biases.forEach((b, i) => b.forEach((v, e) => assert.ok(Math.abs(d.biases[i][e] - v) < 1e-8, `layer ${i} expert ${e}: router bias ${d.biases[i][e]} vs ${v}`)));
  assert.ok(h.biases.some((b) => b.some((v) => v !== 0)), 'the bias moved');
  let worst = 0;
  h.params.forEach((p, i) => p.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - d.params[i][j])); }));
  assert.ok(worst < 5e-4, `parameters differ by up to ${worst}`);
  assert.deepEqual(d.tokens, h.tokens, 'greedy tokens of the trained model');
});

test('webgpu: the sparse MoE dispatch (grouped, and per expert) gives the host grouped path\'s output and gradients (several row tiles per expert, unchosen experts, groups)', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const base: MoEConfig = { dim: 16, nRoutedExperts: 4, nSharedExperts: 1, topK: 2, nGroup: 1, topkGroup: 1, routeScale: 2.5, scoringFunc: 'sigmoid', moeInterDim: 24, gateBias: true, auxLossAlpha: 0 };
  const cases: [string, MoEConfig, number][] = [
    // 150 tokens × 2 of 4 experts: ~75 rows each, two row tiles per expert.
    ['sigmoid, 4 experts', base, 150],
    // 12 experts, a bias that keeps two of them from any token (their gradients must be zero).
    ['softmax, groups, 12 experts', { ...base, nRoutedExperts: 12, topK: 3, nGroup: 4, topkGroup: 2, scoringFunc: 'softmax', routeScale: 1, nSharedExperts: 0 }, 37],
  ];
  for (const [label, cfg, N] of cases) {
    const r = new Rng(31);
    const x = Float32Array.from({ length: N * cfg.dim }, () => r.normal());
    const dy = Float32Array.from({ length: N * cfg.dim }, () => r.normal());
    const run = async (dev: boolean, mode: MoeDispatch = 'grouped', stackFits?: () => boolean) => {
      const moe = new MoE(cfg, new Rng(5));
      if (cfg.nRoutedExperts === 12) (moe.gate.bias!.data as Float32Array).set([0, 0, -9, 0, 0, 0, 0, 0, 0, -9, 0, 0]);
      const named = moe.namedTensors();
      const before = named.map(([, t]) => Float32Array.from(t.data as Float32Array));
      if (dev) T.moveToDevice(named.map(([, t]) => t));
      const xt = T.parameter(dev ? T.toDevice(T.tensor(x, [N, cfg.dim])) : T.tensor(x, [N, cfg.dim]));
      setMoeDispatch(mode);
      const keys: string[] = [];
      const dispatch = k.ctx.dispatch, fits = k.ctx.stackFits;
      if (dev) k.ctx.dispatch = (d) => { keys.push(d.key); dispatch.call(k.ctx, d); };
      if (stackFits) k.ctx.stackFits = stackFits;
      try {
        const y = moe.forward(xt);
        T.sum(T.mul(y, dev ? T.toDevice(T.tensor(dy, [N, cfg.dim])) : T.tensor(dy, [N, cfg.dim]))).backward();
        const params = moe.parameters();
        // Grouped: the experts' weights now live stacked in one slab per kind, and so do their gradients.
        const stacked = (['w1', 'w2', 'w3'] as const).map((w) => T.deviceStackOf(moe.experts.map((m) => m[w].weight)) !== null);
        const gradsStacked = T.deviceStackOf(moe.experts.map((m) => m.w1.weight.grad!)) !== null;
        const vals = dev ? await T.readValues([y, xt.grad!, ...params.map((p) => p.grad ?? T.toDevice(T.zeros(p.shape)))]) : [y.data, xt.grad!.data, ...params.map((p) => (p.grad ? p.grad.data : new Float32Array(p.size)))];
        T.endDeviceStep();
        if (dev) await T.moveToHost(named.map(([, t]) => t));
        named.forEach(([n, t], i) => assert.deepEqual(t.data, before[i], `${label} (${mode}): ${n} unchanged by the round trip`));
        return { y: vals[0] as Float32Array, dx: vals[1] as Float32Array, grads: vals.slice(2) as Float32Array[], names: moe.namedParameters().map(([n]) => n), keys, stacked, gradsStacked };
      } finally {
        setMoeDispatch('grouped');
        k.ctx.dispatch = dispatch;
        k.ctx.stackFits = fits;
      }
    };
    const h = await run(false);
    const d = await run(true);
    // Grouped: the plan, and each expert GEMM once for all experts (3 forward and 3 backward over
    // the rows, 3 weight-gradient sums), over the stacked weights, into stacked gradients.
    assert.equal(d.keys.filter((key) => key === 'moeRoute').length, 1, `${label}: one routing plan`);
    assert.equal(d.keys.filter((key) => key.endsWith(':rowsAll')).length, 6, `${label}: grouped row GEMMs`);
    assert.equal(d.keys.filter((key) => key.endsWith(':kAll')).length, 3, `${label}: grouped weight-gradient GEMMs`);
    assert.ok(!d.keys.some((key) => key.endsWith(':rows') || key.endsWith(':k')), `${label}: no one-expert GEMM`);
    assert.deepEqual(d.stacked, [true, true, true], `${label}: the experts' weights are stacked`);
    assert.ok(d.gradsStacked, `${label}: the experts' gradients are views of one slab`);
    assertClose(d.y, h.y, { rtol: 1e-4, atol: 1e-5, label: `${label}: output` });
    assertClose(d.dx, h.dx, { rtol: 1e-4, atol: 1e-5, label: `${label}: input gradient` });
    h.grads.forEach((g, i) => assertClose(d.grads[i], g, { rtol: 1e-4, atol: 1e-5, label: `${label}: gradient of ${h.names[i]}` }));
    if (cfg.nRoutedExperts === 12) {
      for (const e of [2, 9]) {
        const i = h.names.indexOf(`experts.${e}.w1.weight`);
        assert.ok(h.grads[i].every((v) => v === 0) && d.grads[i].every((v) => v === 0), `${label}: expert ${e}, chosen by no token, has a zero gradient`);
      }
    } else {
      assert.ok(h.grads.every((g) => g.some((v) => v !== 0)), `${label}: every parameter has a gradient`);
    }
    // Per expert: every expert GEMM over its own rows (forward: w1, w3, w2 per expert), the same values bit for bit.
    const one = await run(true, 'per-expert');
    assert.equal(one.keys.filter((key) => key.endsWith(':rows')).length, 6 * cfg.nRoutedExperts, `${label}: per-expert row GEMMs (3 forward, 3 backward per expert)`);
    assert.equal(one.keys.filter((key) => key.endsWith(':k')).length, 3 * cfg.nRoutedExperts, `${label}: per-expert weight-gradient GEMMs`);
    assert.deepEqual(one.stacked, [false, false, false], `${label}: per expert, the weights stay in buffers of their own`);
    assert.deepEqual([one.y, one.dx, ...one.grads], [d.y, d.dx, ...d.grads], `${label}: grouped and per-expert dispatch agree bit for bit`);
    // Grouped, but where a slab would not fit one binding (as for a large model's experts): one dispatch per expert, the same values.
    const unfit = await run(true, 'grouped', () => false);
    assert.equal(unfit.keys.filter((key) => key.endsWith(':rows')).length, 6 * cfg.nRoutedExperts, `${label}: a slab over the limit falls back to per-expert GEMMs`);
    assert.deepEqual(unfit.stacked, [false, false, false], `${label}: nothing stacked over the limit`);
    assert.deepEqual([unfit.y, unfit.dx, ...unfit.grads], [d.y, d.dx, ...d.grads], `${label}: the fallback's values, bit for bit`);
    const dense = await run(true, 'dense');
    assert.ok(!dense.keys.some((key) => key === 'moeRoute' || key.endsWith(':rows')), `${label}: the dense dispatch builds no plan`);
    assertClose(dense.y, d.y, { rtol: 1e-4, atol: 1e-5, label: `${label}: dense vs sparse output` });
    dense.grads.forEach((g, i) => assertClose(g, d.grads[i], { rtol: 1e-4, atol: 1e-5, label: `${label}: dense vs sparse gradient of ${h.names[i]}` }));
  }
});

test('webgpu: the sparse MoE plan keeps each token\'s first K experts of a mask with ties, and its rows', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  // Token 0 marks 3 experts (a tie) for K = 2; token 1 marks 2; token 2 marks 1 (too few: NaN scores).
  const mask = T.toDevice(T.tensor(Float32Array.from([1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0]), [3, 4]));
  const routing = T.routeOnDevice(mask, 2);
  const [keep, rowToken, ranges, rowOf] = await T.readValues([routing.keep, new T.Tensor(routing.plan.rowToken, [routing.rows]), new T.Tensor(routing.plan.ranges, [4, 2]), new T.Tensor(routing.plan.rowOf, [3, 2])]);
  T.endDeviceStep();
  assert.deepEqual([...keep], [1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0]);
  assert.deepEqual([...ranges], [0, 64, 64, 128, 128, 192, 192, 192], 'experts 0, 1, 2: one row tile each; 3: none');
  assert.equal(routing.rows, 256, 'the host-known bound: ⌊(3·2 + 63·4) / 64⌋ tiles');
  // Decoding one token through DeepSeek-V3's 256 experts, 8 per token: 8 experts can get it, 512 rows (not 16,192).
  assert.equal(moePlanRows(1, 256, 8), 512);
  assert.equal(moePlanRows(4096, 256, 8), Math.floor((4096 * 8 + 63 * 256) / 64) * 64);
  assert.equal(rowToken[0], 0); assert.equal(rowToken[64], 1); assert.deepEqual([rowToken[128], rowToken[129], rowToken[130]], [0, 1, 2]);
  assert.ok([...rowToken].every((t, r) => [0, 64, 128, 129, 130].includes(r) || t === -1), 'every other row is padding');
  assert.deepEqual([...rowOf], [0, 128, 64, 129, 130, -1]);
});

test('webgpu: with f16 weights (inference) the grouped MoE dispatch gives the dense dispatch\'s logits and the per-expert one\'s bits', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const { linearWeights } = await import('../../src/nn/layers.ts');
  const r = new Rng(1);
  const x = Int32Array.from({ length: 2 * 20 }, () => r.int(V));
  const logits = async (mode: MoeDispatch) => {
    const m = tinyMoE();
    m.eval();
    const placed = await T.placeOnDevice('test', m.namedTensors().map(([, t]) => t), { half: linearWeights(m) });
    assert.ok(placed.onDevice && m.moeLayers()[0].experts[0].w1.weight.half, 'the experts\' weights are f16 on the device');
    setMoeDispatch(mode);
    try {
      const [v] = await T.readValues([T.noGrad(() => m.forward(T.ids(x, [2, 20])).logits)]);
      return v as Float32Array;
    } finally {
      setMoeDispatch('grouped');
      T.endDeviceStep();
      await placed.release({ toHost: false });
    }
  };
  const grouped = await logits('grouped'), one = await logits('per-expert'), dense = await logits('dense');
  assertClose(grouped, dense, { rtol: 1e-5, atol: 1e-6, label: 'f16 logits, grouped vs dense' });
  assert.deepEqual(grouped, one, 'f16 logits, grouped and per-expert bit for bit');
});
