// Buffer recycling in training (src/tensor/ops.ts ephemeralScope and the op-output
// pool, used by Llama.loss and DeepseekV3.loss): a training step's loss and every
// parameter gradient are bit-identical whether the pool is empty or full of stale
// NaN buffers, so no op reads memory it did not write and backward() recycles
// nothing still in use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { buildModel } from '../../src/io/hf.ts';
import { densePreset, moePreset } from '../../src/models/config.ts';
import * as T from '../../src/tensor/index.ts';

for (const [name, config] of [['dense', densePreset(2, 512, 64)], ['moe', moePreset(2, 512, 64)]] as const) {
  test(`${name}: a training step gives the same loss and gradients on recycled (NaN-poisoned) buffers`, () => {
    const model = buildModel(config, new Rng(3));
    const r = new Rng(4);
    const ids = T.ids(Int32Array.from({ length: 4 * 64 }, () => r.int(512)), [4, 64]); // [B, T]
    const targets = T.ids(Int32Array.from({ length: 4 * 64 }, (_, i) => (i % 7 === 0 ? -100 : r.int(512))), [4, 64]); // [B, T]
    const step = () => {
      for (const p of model.parameters()) p.grad = null;
      const { loss } = model.loss(ids, targets);
      loss.backward();
      return { loss: loss.item(), grads: model.parameters().map((p) => Array.from(p.grad?.data ?? [])) };
    };
    const first = step();
    assert.ok(T.pooledF32().buffers > 0, 'nothing was recycled');
    for (let i = 0; i < 2; i++) {
      T.fillPooledF32(NaN);
      const again = step();
      assert.equal(again.loss, first.loss);
      again.grads.forEach((g, k) => assert.deepEqual(g, first.grads[k], `gradient ${k} differs on recycled buffers`));
    }
  });
}
