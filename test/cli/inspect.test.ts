// r1ts inspect: safetensors files, Hugging Face directories (with a tokenizer)
// and r1ts checkpoints are described; bad inputs are errors, exit status 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspectPath } from '../../src/cli/inspect.ts';
import { buildModel, saveHfModel } from '../../src/io/hf.ts';
import { saveCheckpoint } from '../../src/io/checkpoint.ts';
import { trainBpe, saveTokenizerFiles } from '../../src/tokenizer/index.ts';
import { writeGguf } from '../../src/io/gguf.ts';
import { Rng } from '../../src/core/rng.ts';
import { tinyV3 } from '../models/helpers.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-inspect-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('describes a Hugging Face directory with its tokenizer, a checkpoint and a safetensors file', () => {
  const m = buildModel(tinyV3(), new Rng(1));
  const hf = join(dir, 'hf');
  saveHfModel(m, hf);
  saveTokenizerFiles(hf, trainBpe(['one two three 123 four five six'.repeat(20)], { vocabSize: 300 }));
  const r = inspectPath(hf);
  assert.equal(r.format, 'huggingface');
  assert.equal(r.architecture, 'deepseek_v3');
  assert.equal(r.parameters, m.namedTensors().reduce((s, [, t]) => s + t.size, 0));
  assert.ok(r.tensors.some((t) => t.name === 'model.layers.1.mlp.gate.e_score_correction_bias' && t.dtype === 'F32'));
  assert.ok(r.tokenizer && r.tokenizer.vocabSize >= 256 && r.tokenizer.specials.includes('<think>'));
  const ck = join(dir, 'run');
  saveCheckpoint(ck, { model: m, optimizer: null, rng: null, step: 3 });
  const c = inspectPath(ck);
  assert.equal(c.format, 'r1ts-checkpoint');
  assert.equal(c.extra.step, 3);
  const s = inspectPath(join(hf, 'model.safetensors'));
  assert.equal(s.format, 'safetensors');
  assert.equal(s.tensors.length, r.tensors.length);
});

test('bad inputs exit 1 with the error', () => {
  writeFileSync(join(dir, 'bad.safetensors'), 'not a safetensors file at all');
  const run = (...a: string[]) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), 'inspect', ...a], { cwd: root, encoding: 'utf8' });
  const bad = run(join(dir, 'bad.safetensors'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /r1ts inspect: .*bad\.safetensors: header length/);
  assert.throws(() => inspectPath(join(dir, 'missing')), /no such file or directory/);
  assert.throws(() => inspectPath(dir), /not a Hugging Face directory/);
  writeFileSync(join(dir, 'm.gguf'), Buffer.from('GGUF\x03\x00\x00\x00'));
  assert.throws(() => inspectPath(join(dir, 'm.gguf')), /shorter than a GGUF header/);
  writeGguf(join(dir, 'ok.gguf'), new Map([['general.architecture', { type: 'string', value: 'qwen2' }]]), new Map([['output_norm.weight', { shape: [8], data: new Float32Array(8) }]]));
  const g = inspectPath(join(dir, 'ok.gguf'));
  assert.equal(g.format, 'gguf');
  assert.equal(g.architecture, 'qwen2');
  assert.equal(g.parameters, 8);
});
