// Parity with DeepSeek's official inference code: tiny random DeepSeek-V3
// models whose logits were computed by the official inference/model.py
// (fixtures made by test/fixtures/deepseek-v3-official/make.py) must be
// reproduced by r1ts on both MLA paths, and by KV-cache decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { deepseekFromOfficial } from '../../src/io/deepseek-official.ts';
import { parseModelConfig, type DeepseekV3Config } from '../../src/models/config.ts';
import * as T from '../../src/tensor/index.ts';

const root = resolve(import.meta.dirname, '../fixtures/deepseek-v3-official');

for (const variant of ['sigmoid-groups-yarn', 'softmax-plain']) {
  test(`r1ts reproduces the official DeepSeek-V3 logits (${variant})`, () => {
    const dir = join(root, variant);
    const config = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))) as DeepseekV3Config;
    const model = deepseekFromOfficial(config, readSafetensors(join(dir, 'model.safetensors')).tensors);
    const expected = readSafetensors(join(dir, 'expected.safetensors')).tensors;
    const idsT = expected.get('ids')!;
    const ids = T.ids(idsT.data as Int32Array, idsT.shape);
    const [B, Tn] = idsT.shape;
    const V = config.vocab_size;
    for (const impl of ['naive', 'absorb'] as const) {
      model.setAttnImpl(impl);
      const want = expected.get(`logits_${impl}`)!.data;
      const got = model.forward(ids).logits.data;
      let maxDiff = 0, maxAbs = 0;
      for (let i = 0; i < want.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        maxAbs = Math.max(maxAbs, Math.abs(want[i]));
      }
      assert.ok(maxDiff <= 1e-5 * maxAbs, `${impl}: max |r1ts − official| = ${maxDiff} (max |logit| ${maxAbs})`);
      // and token by token through the KV cache
      const cache = model.newCache(B, Tn);
      for (let t = 0; t < Tn; t++) {
        const step = T.ids([0, 1].map((b) => ids.data[b * Tn + t]), [B, 1]);
        const lo = model.forward(step, { cache }).logits.data;
        for (let b = 0; b < B; b++) {
          for (let v = 0; v < V; v++) {
            const d = Math.abs(lo[b * V + v] - want[(b * Tn + t) * V + v]);
            assert.ok(d <= 1e-5 * maxAbs, `${impl} cached step ${t} batch ${b}: differs by ${d}`);
          }
        }
      }
    }
  });
}

test('the official fixtures survive a trip through a Hugging Face directory (names, config, bias presence)', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { saveHfModel, loadHfModel } = await import('../../src/io/hf.ts');
  const tmp = mkdtempSync(join(tmpdir(), 'r1ts-v3hf-'));
  try {
    for (const variant of ['sigmoid-groups-yarn', 'softmax-plain']) {
      const dir = join(root, variant);
      const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const model = deepseekFromOfficial(parseModelConfig(raw) as DeepseekV3Config, readSafetensors(join(dir, 'model.safetensors')).tensors);
      const out = join(tmp, variant);
      saveHfModel(model, out);
      // Claim the opposite topk_method: the presence of the bias tensors must decide.
      writeFileSync(join(out, 'config.json'), JSON.stringify({ ...raw, topk_method: raw.topk_method === 'noaux_tc' ? 'greedy' : 'noaux_tc' }));
      const back = loadHfModel(out);
      const expected = readSafetensors(join(dir, 'expected.safetensors')).tensors;
      const idsT = expected.get('ids')!;
      const got = back.forward(T.ids(idsT.data as Int32Array, idsT.shape)).logits.data;
      const want = expected.get('logits_naive')!.data;
      let maxDiff = 0, maxAbs = 0;
      for (let i = 0; i < want.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        maxAbs = Math.max(maxAbs, Math.abs(want[i]));
      }
      assert.ok(maxDiff <= 1e-5 * maxAbs, `${variant}: max |r1ts − official| = ${maxDiff}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
