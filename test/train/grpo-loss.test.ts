// GRPO loss and gradient against a straightforward per-token reference in
// float64 (the formula written out with min/clip, no tricks), with the gradient
// of the reference taken by central finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { groupAdvantages, grpoLoss, type Aggregation, type GrpoBatch, type GrpoLossOptions } from '../../src/train/grpo-loss.ts';

/** −J by the book, in float64. */
function referenceLoss(logp: Float64Array, b: GrpoBatch, o: GrpoLossOptions): number {
  const { N, T: L } = b;
  const lens = Array.from({ length: N }, (_, i) => b.mask.slice(i * L, (i + 1) * L).reduce((s, m) => s + m, 0));
  const total = lens.reduce((s, x) => s + x, 0);
  let J = 0;
  for (let i = 0; i < N; i++) {
    for (let t = 0; t < L; t++) {
      const k = i * L + t;
      if (!b.mask[k]) continue;
      const A = b.advantages[i];
      const rho = Math.exp(logp[k] - b.oldLogp[k]);
      const clip = Math.min(Math.max(rho, 1 - o.epsLow), 1 + o.epsHigh);
      let term = Math.min(rho * A, clip * A);
      if (o.beta > 0) {
        const d = b.refLogp![k] - logp[k];
        term -= o.beta * (Math.exp(d) - d - 1);
      }
      const w = o.aggregation === 'sequence' ? 1 / (N * lens[i]) : o.aggregation === 'token' ? 1 / total : 1 / (N * o.maxTokens);
      J += w * term;
    }
  }
  return -J;
}

function makeCase(seed: number, N: number, L: number, G: number, equalGroup: boolean) {
  const rng = new Rng(seed);
  const logp = new Float64Array(N * L);
  const oldLogp = new Float32Array(N * L);
  const refLogp = new Float32Array(N * L);
  const mask = new Float32Array(N * L);
  for (let i = 0; i < N; i++) {
    const len = i % 3 === 0 ? L : 1 + rng.int(L); // some completions truncated at the budget, others stopped early
    for (let t = 0; t < L; t++) {
      const k = i * L + t;
      oldLogp[k] = -0.2 - 2 * rng.uniform();
      refLogp[k] = oldLogp[k] + 0.3 * (rng.uniform() - 0.5);
      // ratios spread over [0.55, 1.6]: some inside, some clipped on either side, none at a kink
      let r = 0.55 + 1.05 * rng.uniform();
      for (const kink of [0.8, 1.2, 1.28]) if (Math.abs(r - kink) < 0.02) r += 0.05;
      logp[k] = oldLogp[k] + Math.log(r);
      mask[k] = t < len ? 1 : 0;
    }
  }
  const mixed = [1, 0, 0.5, 0]; // the other groups' rewards differ
  const rewards = Array.from({ length: N }, (_, i) => (equalGroup && i < G ? 1 : mixed[(i + Math.floor(i / G)) % 4]));
  const advantages = groupAdvantages(rewards, G, true);
  return { logp, batch: { N, T: L, mask, oldLogp, refLogp, advantages } as GrpoBatch };
}

for (const aggregation of ['sequence', 'token', 'constant'] as Aggregation[]) {
  for (const beta of [0, 0.04]) {
    test(`GRPO loss and gradient equal the per-token reference (${aggregation}, beta ${beta}, epsHigh 0.28 ≠ epsLow 0.2)`, () => {
      const { logp, batch } = makeCase(aggregation.length * 7 + beta * 100, 8, 6, 4, true);
      const o: GrpoLossOptions = { epsLow: 0.2, epsHigh: 0.28, beta, aggregation, maxTokens: 6 };
      const x = T.parameter(T.tensor(Float32Array.from(logp), [8, 6]));
      const { loss, stats } = grpoLoss(x, batch, o);
      // evaluate the reference at the float32 values our loss saw
      const lp32 = Float64Array.from(x.data as Float32Array);
      const ref = referenceLoss(lp32, batch, o);
      assert.ok(Math.abs(loss.item() - ref) < 1e-5 * Math.max(1, Math.abs(ref)), `loss ${loss.item()} vs reference ${ref}`);
      loss.backward();
      const g = x.grad!.data as Float32Array;
      const h = 1e-5;
      for (let k = 0; k < lp32.length; k++) {
        const p = Float64Array.from(lp32);
        p[k] += h;
        const up = referenceLoss(p, batch, o);
        p[k] -= 2 * h;
        const down = referenceLoss(p, batch, o);
        const fd = (up - down) / (2 * h);
        assert.ok(Math.abs(g[k] - fd) < 1e-4 * Math.max(1, Math.abs(fd)) + 1e-6, `token ${k}: gradient ${g[k]} vs finite difference ${fd}`);
        if (!batch.mask[k]) assert.ok(g[k] === 0, `masked token ${k} must get no gradient`);
      }
      // the first group's rewards are all equal: its advantages and gradients vanish (without a KL term)
      for (let i = 0; i < 4; i++) assert.equal(batch.advantages[i], 0);
      if (beta === 0) for (let k = 0; k < 4 * 6; k++) assert.ok(g[k] === 0, `token ${k} of the all-equal group: ${g[k]}`);
      assert.ok(stats.clipFrac > 0 && stats.clipFrac < 1, `clip fraction ${stats.clipFrac} should be strictly between 0 and 1 in this case`);
      if (beta > 0) assert.ok(stats.kl > 0);
    });
  }
}

test('group advantages: standardised within each group, or only centred (Dr. GRPO)', () => {
  const a = groupAdvantages([1, 0, 0, 0, 1, 1, 1, 1], 4, true);
  const std = Math.sqrt((0.75 ** 2 + 3 * 0.25 ** 2) / 3);
  assert.ok(Math.abs(a[0] - 0.75 / (std + 1e-6)) < 1e-6);
  assert.ok(Math.abs(a[1] + 0.25 / (std + 1e-6)) < 1e-6);
  assert.deepEqual(Array.from(a.slice(4)), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(groupAdvantages([1, 0, 0, 0], 4, false)), [0.75, -0.25, -0.25, -0.25]);
  assert.throws(() => groupAdvantages([1, 0, 1], 2, true), /groups of 2/);
});

test('on-policy (ρ = 1): the gradient is A·w·∇log π, nothing clipped', () => {
  const N = 2, L = 3;
  const oldLogp = new Float32Array([-1, -2, -0.5, -1.5, -0.7, -0.9]);
  const batch: GrpoBatch = { N, T: L, mask: new Float32Array([1, 1, 1, 1, 1, 0]), oldLogp, refLogp: null, advantages: new Float32Array([1, -1]) };
  const x = T.parameter(T.tensor(Float32Array.from(oldLogp), [N, L]));
  const { loss, stats } = grpoLoss(x, batch, { epsLow: 0.2, epsHigh: 0.2, beta: 0, aggregation: 'sequence', maxTokens: 3 });
  loss.backward();
  const g = Array.from(x.grad!.data as Float32Array);
  const expect = [-1 / 6, -1 / 6, -1 / 6, 1 / 4, 1 / 4, 0];
  g.forEach((v, k) => assert.ok(Math.abs(v - expect[k]) < 1e-6, `token ${k}: ${v} vs ${expect[k]}`));
  assert.equal(stats.clipFrac, 0);
  assert.ok(Math.abs(loss.item()) < 1e-6); // Σ w·A over the batch cancels: 1/2 − 1/2
});

test('bad GRPO batches are refused with the reason', () => {
  const batch: GrpoBatch = { N: 1, T: 2, mask: new Float32Array(2), oldLogp: new Float32Array(3), refLogp: null, advantages: new Float32Array(1) };
  assert.throws(() => grpoLoss(T.zeros([1, 2]), batch, { epsLow: 0.2, epsHigh: 0.2, beta: 0, aggregation: 'token', maxTokens: 2 }), /oldLogp has 3 entries/);
  batch.oldLogp = new Float32Array(2);
  assert.throws(() => grpoLoss(T.zeros([1, 2]), batch, { epsLow: 0.2, epsHigh: 0.2, beta: 0.1, aggregation: 'token', maxTokens: 2 }), /refLogp/);
  assert.throws(() => grpoLoss(T.zeros([2, 2]), batch, { epsLow: 0.2, epsHigh: 0.2, beta: 0, aggregation: 'token', maxTokens: 2 }), /expected \[1, 2\]/);
});
