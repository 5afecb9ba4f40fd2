// Shared-prefix packing is exact: a packed forward gives, at every valid position, the
// logits of running each row with its prefix as its own sequence, and a loss on the rows
// gives the same parameter gradients (Llama/Qwen2 attention with GQA, MLA naive and
// absorbed, a prefix of 0 tokens included); bad packs are refused with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Llama } from '../../src/models/llama.ts';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import type { CausalLM } from '../../src/models/model.ts';
import { packPositions, prefixPack, type PackGroupSpec } from '../../src/nn/prefix-pack.ts';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose } from '../helpers.ts';
import { tinyLlama, tinyV3 } from '../models/helpers.ts';

interface Group { prefix: number[]; rows: number[][] }

function makeGroups(r: Rng, V: number): Group[] {
  const tok = () => r.int(V);
  const seq = (n: number) => Array.from({ length: n }, tok);
  return [
    { prefix: seq(5), rows: [seq(3), seq(6), seq(1)] },
    { prefix: [], rows: [seq(4), seq(2)] },
    { prefix: seq(2), rows: [seq(4), seq(4)] },
  ];
}

/** Packed logits and gradients vs row-by-row, for a loss Σ w·logits over valid row positions. */
function comparePackedToRows(model: CausalLM, groups: Group[], seed: number): void {
  const V = model.config.vocab_size;
  const specs: PackGroupSpec[] = groups.map((g) => ({ prefix: g.prefix.length, lens: g.rows.map((r) => r.length) }));
  const pack = prefixPack(specs);
  const packed = new Int32Array(pack.tokens);
  pack.groups.forEach((pg, gi) => {
    groups[gi].prefix.forEach((t, i) => (packed[pg.start + i] = t));
    groups[gi].rows.forEach((row, r) => row.forEach((t, j) => (packed[pg.start + pg.prefix + r * pg.rowLen + j] = t)));
  });
  const wr = new Rng(seed);
  // one random weight vector per (group, row, position) over the vocabulary
  const weights = groups.map((g) => g.rows.map((row) => row.map(() => Float32Array.from({ length: V }, () => wr.normal()))));

  // packed
  for (const p of model.parameters()) p.grad = null;
  const { logits: pl } = model.forward(T.ids(packed, [1, pack.tokens]), { pack }); // [1, N, V]
  const wPacked = new Float32Array(pack.tokens * V);
  pack.groups.forEach((pg, gi) => weights[gi].forEach((rw, r) => rw.forEach((w, j) => wPacked.set(w, (pg.start + pg.prefix + r * pg.rowLen + j) * V))));
  T.sum(T.mul(pl, T.tensor(wPacked, [1, pack.tokens, V]))).backward();
  const gPacked = model.parameters().map((p) => Float32Array.from(p.grad?.data ?? new Float32Array(p.size)));
  const plData = Float32Array.from(pl.data as Float32Array);

  // row by row
  for (const p of model.parameters()) p.grad = null;
  pack.groups.forEach((pg, gi) => {
    const g = groups[gi];
    g.rows.forEach((row, r) => {
      const seq = [...g.prefix, ...row];
      const { logits } = model.forward(T.ids(Int32Array.from(seq), [1, seq.length])); // [1, P+len, V]
      const w = new Float32Array(seq.length * V);
      weights[gi][r].forEach((wv, j) => w.set(wv, (g.prefix.length + j) * V));
      T.sum(T.mul(logits, T.tensor(w, [1, seq.length, V]))).backward();
      const ld = logits.data as Float32Array;
      for (let j = 0; j < row.length; j++) {
        const at = pg.start + pg.prefix + r * pg.rowLen + j;
        assertClose(plData.subarray(at * V, (at + 1) * V), ld.subarray((g.prefix.length + j) * V, (g.prefix.length + j + 1) * V), { rtol: 1e-4, atol: 1e-5, label: `group ${gi} row ${r} token ${j}` });
      }
      if (r === 0) {
        for (let t = 0; t < g.prefix.length; t++) {
          assertClose(plData.subarray((pg.start + t) * V, (pg.start + t + 1) * V), ld.subarray(t * V, (t + 1) * V), { rtol: 1e-4, atol: 1e-5, label: `group ${gi} prefix token ${t}` });
        }
      }
    });
  });
  model.parameters().forEach((p, i) => {
    const rowWise = p.grad?.data ?? new Float32Array(p.size);
    assertClose(gPacked[i], rowWise, { rtol: 1e-3, atol: 1e-5, label: `gradient of parameter ${i} [${p.shape}]` });
  });
}

test('packed forward = row by row: Llama/Qwen2 attention (GQA, qkv bias)', () => {
  const m = new Llama(tinyLlama(), new Rng(1));
  comparePackedToRows(m, makeGroups(new Rng(2), m.config.vocab_size), 3);
});

test('packed forward = row by row: MLA naive and absorbed, with MoE', () => {
  for (const impl of ['naive', 'absorb'] as const) {
    const m = new DeepseekV3(tinyV3(), new Rng(4));
    m.setAttnImpl(impl);
    comparePackedToRows(m, makeGroups(new Rng(5), m.config.vocab_size), 6);
  }
});

test('pack layout and validation', () => {
  const pack = prefixPack([{ prefix: 2, lens: [1, 3] }, { prefix: 0, lens: [2] }]);
  assert.equal(pack.tokens, 2 + 2 * 3 + 2);
  assert.deepEqual([...packPositions(pack)], [0, 1, 2, 3, 4, 2, 3, 4, 0, 1]);
  assert.throws(() => prefixPack([]), /at least one group/);
  assert.throws(() => prefixPack([{ prefix: 1, lens: [] }]), /no rows/);
  assert.throws(() => prefixPack([{ prefix: 1, lens: [0, 2] }]), /row of 0 tokens/);
  assert.throws(() => prefixPack([{ prefix: 1, lens: [3], rowLen: 2 }]), /row of 3 tokens, expected 1..2/);
  assert.throws(() => prefixPack([{ prefix: -1, lens: [1] }]), /prefix -1/);
  const m = new Llama(tinyLlama(), new Rng(1));
  assert.throws(() => m.forward(T.ids(new Int32Array(4), [2, 2]), { pack: prefixPack([{ prefix: 2, lens: [1, 1] }]) }), /packed pass takes ids \[1, 4\]/);
});
