// DeepSeek-V3 model: MLA's two paths agree, KV-cache decoding equals the full
// forward (ragged batches too), MoE equals a dense loop over tokens and experts,
// grouped routing equals brute force, bias balancing evens out a skewed router,
// module gradients match finite differences, parameter counts match the closed form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import { moePreset } from '../../src/models/config.ts';
import { MoE, Gate } from '../../src/nn/moe.ts';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose } from '../helpers.ts';
import { tinyV3 } from './helpers.ts';

function randIds(r: Rng, B: number, Tn: number, V: number): T.Tensor {
  return T.ids(Int32Array.from({ length: B * Tn }, () => r.int(V)), [B, Tn]);
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

test('naive and absorbed MLA give the same logits (with and without q_lora)', () => {
  for (const qLora of [12, 0]) {
    const m = new DeepseekV3(tinyV3({ q_lora_rank: qLora }), new Rng(1));
    const ids = randIds(new Rng(2), 2, 9, 37);
    const a = m.forward(ids).logits;
    m.setAttnImpl('absorb');
    const b = m.forward(ids).logits;
    assert.ok(maxRel(b.data, a.data) <= 1e-5, `q_lora_rank ${qLora}: relative difference ${maxRel(b.data, a.data)}`);
  }
});

test('KV-cache decoding step by step equals the full forward, for both MLA paths and ragged batches', () => {
  const m = new DeepseekV3(tinyV3(), new Rng(3));
  m.eval();
  const r = new Rng(4);
  const B = 2, Tn = 8;
  const ids = randIds(r, B, Tn, 37);
  const full = m.forward(ids).logits; // [B, T, V]
  const V = 37;
  for (const impl of ['naive', 'absorb'] as const) {
    m.setAttnImpl(impl);
    // Ragged prefill: sequence 0 gets 3 tokens, sequence 1 gets 5, then each decodes one token at a time.
    const cache = m.newCache(B, 16);
    const lens = [3, 5];
    const pre = T.ids(Int32Array.from({ length: B * 5 }, (_, i) => (Math.floor(i / 5) === 0 && i % 5 >= 3 ? 0 : ids.data[Math.floor(i / 5) * Tn + (i % 5)])), [B, 5]);
    const out = m.forward(pre, { cache, lengths: lens }).logits;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < lens[b]; t++) {
        assertClose(out.data.subarray((b * 5 + t) * V, (b * 5 + t + 1) * V), full.data.subarray((b * Tn + t) * V, (b * Tn + t + 1) * V), { rtol: 1e-4, atol: 1e-5, label: `${impl} prefill b${b} t${t}` });
      }
    }
    assert.deepEqual(Array.from(cache.lens), lens);
    while (cache.lens[0] < Tn || cache.lens[1] < Tn) {
      const step = T.ids([0, 1].map((b) => ids.data[b * Tn + Math.min(cache.lens[b], Tn - 1)]), [B, 1]);
      const active = [0, 1].map((b) => (cache.lens[b] < Tn ? 1 : 0));
      const posBefore = Array.from(cache.lens);
      const lo = m.forward(step, { cache, lengths: active }).logits;
      for (let b = 0; b < B; b++) {
        if (!active[b]) continue;
        const t = posBefore[b];
        assertClose(lo.data.subarray(b * V, (b + 1) * V), full.data.subarray((b * Tn + t) * V, (b * Tn + t + 1) * V), { rtol: 1e-4, atol: 1e-5, label: `${impl} decode b${b} t${t}` });
      }
    }
  }
});

/** A plain loop: for each token, the official gate rule by brute force over group subsets, then Σ weight·expert(x). */
function denseMoE(moe: MoE, x: T.Tensor): Float32Array {
  const { dim: C, nRoutedExperts: E, topK: K, nGroup: G, topkGroup, scoringFunc, routeScale } = moe.cfg;
  const N = x.size / C;
  const out = new Float32Array(N * C);
  const s = T.noGrad(() => moe.gate.scores(T.reshape(x, [N, C]))).data as Float32Array;
  const bias = moe.gate.bias ? (moe.gate.bias.data as Float32Array) : null;
  const per = E / G;
  for (let n = 0; n < N; n++) {
    const sel = Array.from({ length: E }, (_, e) => Math.fround(s[n * E + e] + (bias ? bias[e] : 0)));
    // group scores; keep the topkGroup best groups (brute force over subsets, ties to lower group ids)
    const gs = Array.from({ length: G }, (_, g) => {
      const v = sel.slice(g * per, (g + 1) * per).sort((a, b) => b - a);
      return bias ? Math.fround(v[0] + v[1]) : v[0];
    });
    let best: number[] = [];
    let bestKey = '';
    const subsets = (start: number, acc: number[]): void => {
      if (acc.length === topkGroup) {
        const key = acc.map((g) => gs[g]).sort((a, b) => b - a).join(',');
        if (!best.length || key > bestKey || (key === bestKey && acc.join() < best.join())) { best = [...acc]; bestKey = key; }
        return;
      }
      for (let g = start; g < G; g++) subsets(g + 1, [...acc, g]);
    };
    if (G > 1) subsets(0, []);
    const allowed = (e: number) => G === 1 || best.includes(Math.floor(e / per));
    const chosen = Array.from({ length: E }, (_, e) => e).filter(allowed).sort((a, b) => sel[b] - sel[a] || a - b).slice(0, K);
    let w = chosen.map((e) => s[n * E + e]);
    if (scoringFunc === 'sigmoid') { const z = w.reduce((a, b) => a + b, 0); w = w.map((v) => v / z); }
    w = w.map((v) => v * routeScale);
    const xn = T.tensor(x.data.slice(n * C, (n + 1) * C) as Float32Array, [1, C]);
    chosen.forEach((e, j) => {
      const y = T.noGrad(() => moe.experts[e].forward(xn)).data;
      for (let c = 0; c < C; c++) out[n * C + c] += w[j] * y[c];
    });
    if (moe.sharedExperts) {
      const z = T.noGrad(() => moe.sharedExperts!.forward(xn)).data;
      for (let c = 0; c < C; c++) out[n * C + c] += z[c];
    }
  }
  return out;
}

test('MoE equals a dense loop over tokens and experts (sigmoid with bias and groups; softmax without)', () => {
  for (const over of [{}, { scoring_func: 'softmax', topk_method: 'greedy', n_group: 1, topk_group: 1, routed_scaling_factor: 1 }, { scoring_func: 'softmax', topk_method: 'group_limited_greedy' }]) {
    const m = new DeepseekV3(tinyV3(over), new Rng(5));
    const moe = m.layers[1].ffn as MoE;
    if (moe.gate.bias) {
      const d = moe.gate.bias.data as Float32Array;
      const r = new Rng(6);
      for (let i = 0; i < d.length; i++) d[i] = (r.uniform() - 0.5) * 0.4;
    }
    const x = T.randn([3, 5, 32], new Rng(7));
    const got = T.noGrad(() => moe.forward(x));
    assertClose(got.data, denseMoE(moe, x), { rtol: 1e-4, atol: 1e-6, label: JSON.stringify(over) });
  }
});

test('grouped routing picks what brute force picks on many random tokens', () => {
  const cfg = { dim: 4, nRoutedExperts: 16, nSharedExperts: 0, topK: 4, nGroup: 4, topkGroup: 2, routeScale: 1, scoringFunc: 'sigmoid' as const, moeInterDim: 4, gateBias: true, auxLossAlpha: 0 };
  const g = new Gate(cfg, new Rng(8));
  const r = new Rng(9);
  const bias = g.bias!.data as Float32Array;
  for (let trial = 0; trial < 200; trial++) {
    for (let e = 0; e < 16; e++) bias[e] = (r.uniform() - 0.5) * 0.5;
    const s = Float32Array.from({ length: 16 }, () => r.uniform());
    const got = Array.from(g.select(s, 1));
    // brute force: every group subset of size 2, score = Σ top-2 sums; best subset; top-4 experts inside it
    const sel = Array.from(s, (v, e) => Math.fround(v + bias[e]));
    const gsc = [0, 1, 2, 3].map((gi) => { const v = sel.slice(gi * 4, gi * 4 + 4).sort((a, b) => b - a); return Math.fround(v[0] + v[1]); });
    const order = [0, 1, 2, 3].sort((a, b) => gsc[b] - gsc[a] || a - b).slice(0, 2);
    const want = Array.from({ length: 16 }, (_, e) => e).filter((e) => order.includes(Math.floor(e / 4))).sort((a, b) => sel[b] - sel[a] || a - b).slice(0, 4);
    assert.deepEqual(got, want, `trial ${trial}`);
  }
});

test('auxiliary-loss-free bias updates drive a skewed router toward uniform load', () => {
  const cfg = { dim: 8, nRoutedExperts: 8, nSharedExperts: 0, topK: 2, nGroup: 1, topkGroup: 1, routeScale: 1, scoringFunc: 'sigmoid' as const, moeInterDim: 4, gateBias: true, auxLossAlpha: 0 };
  const moe = new MoE(cfg, new Rng(10));
  const w = moe.gate.weight.data as Float32Array;
  for (let e = 0; e < 8; e++) for (let c = 0; c < 8; c++) w[e * 8 + c] = (e < 2 ? 1.5 : 0) + 0.2 * Math.sin(e * 8 + c); // experts 0, 1 favoured
  const r = new Rng(11);
  const imbalance = (load: Float64Array) => Math.max(...load) / (load.reduce((a, b) => a + b) / load.length);
  let first = 0;
  const recent = new Float64Array(8); // load over the last 100 steps (single batches are noisy)
  for (let step = 0; step < 300; step++) {
    const x = T.add(T.randn([64, 8], r, 0.5), 1); // positive features: the favoured experts win without balancing
    T.noGrad(() => moe.forward(x));
    const load = moe.updateBias(0.01);
    if (step === 0) first = imbalance(load);
    if (step >= 200) for (let e = 0; e < 8; e++) recent[e] += load[e];
  }
  const last = imbalance(recent);
  assert.ok(first > 2.5, `the router starts skewed (max/mean load ${first})`);
  assert.ok(last < 1.2, `balancing evens the load (max/mean ${first.toFixed(2)} → ${last.toFixed(2)})`);
});

test('module gradients match finite differences on a tiny config (MLA both paths, MoE, MTP)', () => {
  const cfg = tinyV3({ hidden_size: 16, num_attention_heads: 2, q_lora_rank: 8, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, moe_intermediate_size: 8, intermediate_size: 16, vocab_size: 11, n_routed_experts: 4, n_group: 2, topk_group: 1, num_experts_per_tok: 2, aux_loss_alpha: 0.01 });
  for (const impl of ['naive', 'absorb'] as const) {
    const m = new DeepseekV3(cfg, new Rng(12));
    m.setAttnImpl(impl);
    const r = new Rng(13);
    const ids = randIds(r, 2, 5, 11), targets = randIds(r, 2, 5, 11);
    const lossOf = () => T.noGrad(() => m.loss(ids, targets).loss.item());
    m.loss(ids, targets).loss.backward();
    // Probe a few elements of parameters of each module kind (the routing is piecewise constant,
    // so a step small enough not to flip a selection is used).
    const probes = ['layers.0.attn.wqA.weight', 'layers.1.attn.wkvB.weight', 'layers.1.attn.kvNorm.weight', 'layers.1.ffn.gate.weight', 'layers.1.ffn.experts.0.w1.weight', 'layers.1.ffn.sharedExperts.w2.weight', 'mtp.0.ehProj.weight', 'mtp.0.block.attn.wo.weight', 'head.weight', 'embed.weight'];
    const params = new Map(m.namedParameters());
    for (const name of probes) {
      const p = params.get(name)!;
      assert.ok(p?.grad, `${impl}: ${name} has a gradient`);
      const d = p.data as Float32Array;
      for (const j of [0, Math.floor(d.length / 2), d.length - 1]) {
        const keep = d[j], h = 1e-3;
        d[j] = keep + h; const lp = lossOf();
        d[j] = keep - h; const lm = lossOf();
        d[j] = keep;
        const num = (lp - lm) / (2 * h), ana = p.grad!.data[j];
        // f32 rounding of the loss (~1e-6 relative) divided by 2h sets a noise floor of ~1e-3.
        assert.ok(Math.abs(num - ana) <= 2e-2 * Math.abs(num) + 1.5e-3, `${impl} ${name}[${j}]: analytic ${ana}, numeric ${num}`);
      }
    }
  }
});

test('parameter counts of the presets match the closed form', () => {
  for (const depth of [2, 6]) {
    const c = moePreset(depth);
    const m = new DeepseekV3(c, new Rng(14));
    const C = c.hidden_size, H = c.num_attention_heads, R = c.kv_lora_rank, Dn = c.qk_nope_head_dim, Dr = c.qk_rope_head_dim, Dv = c.v_head_dim;
    const mla = C * H * (Dn + Dr) + C * (R + Dr) + R + R * H * (Dn + Dv) + H * Dv * C;
    const mlp = (f: number) => 3 * C * f;
    const moe = c.n_routed_experts * C + mlp(c.moe_intermediate_size) * (c.n_routed_experts + c.n_shared_experts);
    const block = (dense: boolean) => 2 * C + mla + (dense ? mlp(c.intermediate_size) : moe);
    const layers = c.first_k_dense_replace * block(true) + (c.num_hidden_layers - c.first_k_dense_replace) * block(false);
    const mtp = c.num_nextn_predict_layers * (2 * C + 2 * C * C + block(false) + C);
    const want = c.vocab_size * C + layers + C + C * c.vocab_size + mtp;
    const buffers = (c.num_hidden_layers - c.first_k_dense_replace + c.num_nextn_predict_layers) * c.n_routed_experts; // gate biases
    assert.equal(m.numParameters(), want);
    assert.equal(m.namedTensors().reduce((s, [, t]) => s + t.size, 0), want + buffers);
    console.log(`moe preset depth ${depth}: ${want} parameters (${(want / 1e6).toFixed(2)}M)`);
  }
});
