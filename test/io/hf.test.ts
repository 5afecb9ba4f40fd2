// Hugging Face directories: save → load reproduces the model for every family,
// names follow the Hugging Face conventions, sharded checkpoints load, and
// unknown or missing tensors are reported by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, loadHfModel, saveHfModel, readHfTensors } from '../../src/io/hf.ts';
import { readSafetensors, writeSafetensors, readSafetensorsHeader } from '../../src/io/safetensors.ts';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { tinyLlama, tinyV3 } from '../models/helpers.ts';
import { assertClose } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'r1ts-hf-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ids = T.ids([1, 5, 9, 2, 7, 3, 4, 8], [2, 4]);

for (const [label, config] of [['qwen2', tinyLlama()], ['llama tied', tinyLlama({ model_type: 'llama', tie_word_embeddings: true })], ['deepseek_v3 + MTP', tinyV3()]] as const) {
  test(`save and load a Hugging Face directory (${label})`, () => {
    const m = buildModel(config, new Rng(7));
    const d = join(dir, label.replace(/\W/g, '_'));
    saveHfModel(m, d);
    const names = readSafetensorsHeader(join(d, 'model.safetensors')).tensors.map((t) => t.name);
    if (config.model_type === 'qwen2') assert.ok(names.includes('model.layers.1.self_attn.q_proj.bias') && names.includes('lm_head.weight'));
    if (config.model_type === 'llama') assert.ok(!names.includes('lm_head.weight'), 'a tied head is not stored');
    if (config.model_type === 'deepseek_v3') {
      for (const n of ['model.layers.0.self_attn.kv_a_proj_with_mqa.weight', 'model.layers.1.mlp.gate.e_score_correction_bias', 'model.layers.1.mlp.experts.7.down_proj.weight', 'model.layers.2.eh_proj.weight', 'model.layers.2.mlp.shared_experts.up_proj.weight']) {
        assert.ok(names.includes(n), `has ${n}`);
      }
    }
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    assert.equal(cfg.model_type, config.model_type);
    const back = loadHfModel(d);
    assertClose(back.forward(ids).logits.data, m.forward(ids).logits.data, { rtol: 0, atol: 0, label });
  });
}

test('sharded checkpoints with an index load; F16 storage converts', () => {
  const m = buildModel(tinyLlama(), new Rng(8));
  const d = join(dir, 'sharded');
  saveHfModel(m, d, { dtype: 'F16' });
  const all = readSafetensors(join(d, 'model.safetensors')).tensors;
  rmSync(join(d, 'model.safetensors'));
  const names = [...all.keys()];
  const half = Math.floor(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((list, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(join(d, file), new Map(list.map((n) => [n, { shape: all.get(n)!.shape, data: all.get(n)!.data }])));
    for (const n of list) weightMap[n] = file;
  });
  writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  assert.equal(readHfTensors(d).size, names.length);
  const back = loadHfModel(d);
  assertClose(back.forward(ids).logits.data, m.forward(ids).logits.data, { rtol: 5e-3, atol: 5e-3, label: 'f16 round trip' });
});

test('unknown and missing tensors are reported by name', () => {
  const m = buildModel(tinyLlama(), new Rng(9));
  const d = join(dir, 'bad');
  saveHfModel(m, d);
  const t = readSafetensors(join(d, 'model.safetensors')).tensors;
  t.delete('model.layers.0.mlp.up_proj.weight');
  t.set('model.layers.0.mlp.extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
  writeSafetensors(join(d, 'model.safetensors'), new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: v.data }])));
  assert.throws(() => loadHfModel(d), /no place in a qwen2 model: model\.layers\.0\.mlp\.extra\.weight.*missing: model\.layers\.0\.mlp\.up_proj\.weight/);
  writeFileSync(join(d, 'config.json'), '{"model_type": "qwen2", "vocab_size": "many"}');
  assert.throws(() => loadHfModel(d), /invalid Qwen2 config:[\s\S]*vocab_size/);
  assert.throws(() => loadHfModel(join(dir, 'nope')), /no config\.json/);
});
