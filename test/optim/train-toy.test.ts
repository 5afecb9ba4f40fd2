// End-to-end training through the tensor engine and AdamW on every backend: a
// 2-layer MLP on a regression problem and a 1-block transformer (embedding,
// RMSNorm, causal attention with RoPE, SwiGLU MLP, fused cross-entropy) on a
// next-token task. Seeded, so the losses are deterministic per backend.
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { clipGradNorm } from '../../src/optim/clip.ts';
import { Rng } from '../../src/core/rng.ts';
import { onEveryBackend } from '../helpers.ts';


onEveryBackend('a 2-layer MLP fits y = sin(3x) with AdamW', () => {
  const r = new Rng(1);
  const N = 64;
  const x = T.tensor(Float32Array.from({ length: N }, (_, i) => -1 + (2 * i) / (N - 1)), [N, 1]);
  const y = T.tensor(Float32Array.from(x.data, (v) => Math.sin(3 * v)), [N, 1]);
  const w1 = T.parameter(T.randn([32, 1], r, 1)), b1 = T.parameter(T.zeros([32]));
  const w2 = T.parameter(T.randn([1, 32], r, 0.2)), b2 = T.parameter(T.zeros([1]));
  const opt = new AdamW([w1, b1, w2, b2], { lr: 1e-2, weightDecay: 0 });
  const losses: number[] = [];
  for (let step = 0; step < 300; step++) {
    const h = T.tanh(T.linear(x, w1, b1)); // [N, 32]
    const pred = T.linear(h, w2, b2); // [N, 1]
    const loss = T.mean(T.square(T.sub(pred, y)));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  assert.ok(losses.at(-1)! < 0.02 * losses[0], `loss ${losses[0]} → ${losses.at(-1)}`);
});

onEveryBackend('a 1-block transformer learns a next-token task', () => {
  const r = new Rng(2);
  const V = 12, C = 32, H = 2, D = C / H, Tn = 12, B = 8, F = 64;
  const init = (shape: number[], std = 0.08) => T.parameter(T.randn(shape, r, std));
  const p = {
    emb: init([V, C], 0.5), n1: T.parameter(T.ones([C])), wq: init([C, C]), wk: init([C, C]), wv: init([C, C]), wo: init([C, C]),
    n2: T.parameter(T.ones([C])), wg: init([F, C]), wu: init([F, C]), wd: init([C, F]), nf: T.parameter(T.ones([C])), head: init([V, C]),
  };
  const half = D / 2;
  const cos = new Float32Array(Tn * half), sin = new Float32Array(Tn * half);
  for (let t = 0; t < Tn; t++) for (let i = 0; i < half; i++) {
    cos[t * half + i] = Math.cos(t * Math.pow(10000, -i / half));
    sin[t * half + i] = Math.sin(t * Math.pow(10000, -i / half));
  }
  const cosT = T.tensor(cos, [Tn, half]), sinT = T.tensor(sin, [Tn, half]);
  const pos = T.ids(Int32Array.from({ length: B * Tn }, (_, i) => i % Tn));
  // Sequences count up modulo V from a random start: the next token is (x + 1) mod V,
  // so a model must read the current token (attention and the MLP both help).
  const batch = () => {
    const inp = new Int32Array(B * Tn), tgt = new Int32Array(B * Tn);
    for (let b = 0; b < B; b++) {
      const s = r.int(V);
      for (let t = 0; t < Tn; t++) {
        inp[b * Tn + t] = (s + t) % V;
        tgt[b * Tn + t] = (s + t + 1) % V;
      }
    }
    return [T.ids(inp, [B, Tn]), T.ids(tgt, [B, Tn])];
  };
  const forward = (ids: T.Tensor) => {
    let x = T.embedding(p.emb, ids); // [B, T, C]
    const h = T.rmsnorm(x, p.n1);
    const q = T.rope(T.reshape(T.linear(h, p.wq), [B, Tn, H, D]), cosT, sinT, pos, { interleaved: false });
    const k = T.rope(T.reshape(T.linear(h, p.wk), [B, Tn, H, D]), cosT, sinT, pos, { interleaved: false });
    const v = T.reshape(T.linear(h, p.wv), [B, Tn, H, D]);
    const a = T.reshape(T.attention(q, k, v, { causal: true }), [B, Tn, C]);
    x = T.add(x, T.linear(a, p.wo));
    const h2 = T.rmsnorm(x, p.n2);
    x = T.add(x, T.linear(T.swiglu(T.linear(h2, p.wg), T.linear(h2, p.wu)), p.wd));
    return T.linear(T.rmsnorm(x, p.nf), p.head); // [B, T, V]
  };
  const params = Object.values(p);
  const opt = new AdamW(params, { lr: 1e-2, weightDecay: 0.01 });
  const losses: number[] = [];
  for (let step = 0; step < 60; step++) {
    const [inp, tgt] = batch();
    const loss = T.crossEntropy(forward(inp), tgt);
    opt.zeroGrad();
    loss.backward();
    clipGradNorm(params, 1.0);
    opt.step();
    losses.push(loss.item());
  }
  // Starts near ln V (uniform guessing), ends near zero.
  const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(Math.abs(losses[0] - Math.log(V)) < 0.3 && last < 0.05, `loss ${losses[0].toFixed(3)} → ${last.toFixed(4)}`);
});
