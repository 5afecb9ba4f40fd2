// r1ts logits and r1ts export through the real command: the .npy holds the
// model's logits (parsed here, and by NumPy when it is installed), exporting a
// checkpoint gives a Hugging Face directory (or a GGUF file, read back through
// `r1ts logits`) that computes the same, and bad inputs are errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildModel, loadHfModel } from '../../src/io/hf.ts';
import { saveCheckpoint } from '../../src/io/checkpoint.ts';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { tinyLlama } from '../models/helpers.ts';
import { readGgufHeader } from '../../src/io/gguf.ts';
import { saveTokenizerFiles } from '../../src/tokenizer/tokenizer-json.ts';
import { TINY_PROMPT, tinyConfig, tinyModel, tinyTokenizer } from '../io/gguf-tiny.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-mio-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const run = (...a: string[]) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...a], { cwd: root, encoding: 'utf8' });

function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const b = readFileSync(path);
  assert.equal(b.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  const hlen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hlen).toString('latin1');
  assert.match(header, /'descr': '<f4', 'fortran_order': False/);
  assert.equal((10 + hlen) % 64, 0);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  const body = b.subarray(10 + hlen);
  return { shape, data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)) };
}

test('logits of a checkpoint, and its export to a Hugging Face directory', () => {
  const m = buildModel(tinyLlama(), new Rng(3));
  const ck = join(dir, 'run');
  saveCheckpoint(ck, { model: m, optimizer: null, rng: null, step: 5 });
  const rows = [[1, 2, 3, 4], [5, 6, 7, 8]];
  writeFileSync(join(dir, 'ids.json'), JSON.stringify(rows));
  const out = join(dir, 'logits.npy');
  const r = run('logits', ck, '--ids', join(dir, 'ids.json'), '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const npy = readNpy(out);
  assert.deepEqual(npy.shape, [2, 4, 41]);
  const want = T.noGrad(() => m.forward(T.ids(rows.flat(), [2, 4])).logits).data;
  assert.deepEqual(Array.from(npy.data), Array.from(want));
  const py = spawnSync('/usr/bin/python3', ['-c', `import numpy; a = numpy.load(${JSON.stringify(out)}); print(a.shape, float(a[1, 3, 40]))`], { encoding: 'utf8' });
  if (py.status === 0) assert.equal(py.stdout.trim(), `(2, 4, 41) ${want[2 * 4 * 41 - 1]}`.replace(/ (\S+)$/, (_, v) => ` ${Number(v)}`));

  const hf = join(dir, 'hf');
  const e = run('export', ck, '--to', 'hf', '--out', hf);
  assert.equal(e.status, 0, e.stderr);
  const back = loadHfModel(hf);
  assert.deepEqual(Array.from(back.forward(T.ids(rows.flat(), [2, 4])).logits.data), Array.from(want));
});

test('bad ids, missing models and GGUF export are clear errors', () => {
  const m = buildModel(tinyLlama(), new Rng(4));
  const ck = join(dir, 'run2');
  saveCheckpoint(ck, { model: m, optimizer: null, rng: null, step: 1 });
  writeFileSync(join(dir, 'bad.json'), JSON.stringify([[1, 2], [3]]));
  const a = run('logits', ck, '--ids', join(dir, 'bad.json'), '--out', join(dir, 'x.npy'));
  assert.equal(a.status, 1);
  assert.match(a.stderr, /rows of equal length/);
  writeFileSync(join(dir, 'oob.json'), JSON.stringify([[1, 99]]));
  const b = run('logits', ck, '--ids', join(dir, 'oob.json'), '--out', join(dir, 'x.npy'));
  assert.equal(b.status, 1);
  assert.match(b.stderr, /row 0 position 1 holds 99, expected an integer id in \[0, 41\)/);
  const c = run('export', join(dir, 'nothing'), '--to', 'hf', '--out', join(dir, 'y'));
  assert.equal(c.status, 1);
  assert.match(c.stderr, /no such directory/);
  const d = run('export', ck, '--to', 'gguf', '--out', join(dir, 'y.gguf'));
  assert.equal(d.status, 1);
  assert.match(d.stderr, /no tokenizer\.json .* must carry its tokenizer/);
  const f = run('export', ck, '--to', 'gguf', '--dtype', 'bf16', '--out', join(dir, 'y.gguf'));
  assert.equal(f.status, 2);
  assert.match(f.stderr, /GGUF export writes f32 or f16/);
});

test('export --to gguf of a checkpoint with its tokenizer; logits of the .gguf match; f16 too', () => {
  const m = tinyModel(tinyConfig('deepseek2'));
  const ck = join(dir, 'run3');
  saveCheckpoint(ck, { model: m, optimizer: null, rng: null, step: 1 });
  saveTokenizerFiles(ck, tinyTokenizer(), '{{ messages }}');
  writeFileSync(join(dir, 'ids3.json'), JSON.stringify([TINY_PROMPT]));
  const want = T.noGrad(() => m.forward(T.ids(TINY_PROMPT, [1, TINY_PROMPT.length])).logits).data;
  for (const dtype of ['f32', 'f16']) {
    const g = join(dir, `m-${dtype}.gguf`);
    const e = run('export', ck, '--to', 'gguf', '--dtype', dtype, '--out', g);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stderr, /left out \d+ MTP tensors/);
    assert.equal(readGgufHeader(g).metadata.get('tokenizer.chat_template')?.value, '{{ messages }}');
    const ins = run('inspect', g);
    assert.equal(ins.status, 0, ins.stderr);
    assert.match(ins.stdout, /deepseek2/);
    const out = join(dir, `l-${dtype}.npy`);
    const r = run('logits', g, '--ids', join(dir, 'ids3.json'), '--out', out);
    assert.equal(r.status, 0, r.stderr);
    if (dtype === 'f32') assert.deepEqual(Array.from(readNpy(out).data), Array.from(want));
    else readNpy(out).data.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 5e-2, `f16 logit ${i}: ${v} vs ${want[i]}`));
  }
});
