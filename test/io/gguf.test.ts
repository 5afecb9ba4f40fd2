// GGUF container: round trips of metadata of every type and F32/F16 tensors,
// parsed independently by @huggingface/gguf; malformed and lying files give
// GgufErrors (a fuzz of 1,000 mutations), never a crash or a huge allocation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { GgufError, readGguf, readGgufHeader, writeGguf, type GgufValue } from '../../src/io/gguf.ts';
import { Rng } from '../../src/core/rng.ts';

const dir = mkdtempSync(join(tmpdir(), 'r1ts-gguf-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const r = new Rng(5);
const w = Float32Array.from({ length: 6 * 4 }, () => r.normal());
const b = Float32Array.from({ length: 7 }, () => r.normal());
const metadata = new Map<string, GgufValue>([
  ['general.architecture', { type: 'string', value: 'llama' }],
  ['general.name', { type: 'string', value: 'r1ts-test ✓' }],
  ['llama.block_count', { type: 'u32', value: 2 }],
  ['llama.rope.freq_base', { type: 'f32', value: 10000 }],
  ['test.i8', { type: 'i8', value: -3 }], ['test.u16', { type: 'u16', value: 65535 }], ['test.i64', { type: 'i64', value: -(2n ** 40n) }],
  ['test.f64', { type: 'f64', value: Math.PI }], ['test.bool', { type: 'bool', value: true }],
  ['tokenizer.ggml.tokens', { type: 'array', elem: 'string', value: ['<s>', 'a', 'bc'] }],
  ['tokenizer.ggml.token_type', { type: 'array', elem: 'i32', value: [3, 1, 1] }],
]);

test('round trip, and @huggingface/gguf reads the same file', async () => {
  const p = join(dir, 'a.gguf');
  writeGguf(p, metadata, new Map([['blk.0.attn_q.weight', { shape: [6, 4], data: w }], ['output_norm.weight', { shape: [7], data: b, type: 'F16' as const }]]));
  const f = readGguf(p);
  assert.equal(f.version, 3);
  assert.deepEqual([...f.metadata.keys()], [...metadata.keys()]);
  assert.deepEqual(f.metadata.get('test.i64'), { type: 'i64', value: -(2n ** 40n) });
  assert.deepEqual(f.metadata.get('tokenizer.ggml.tokens'), metadata.get('tokenizer.ggml.tokens'));
  assert.deepEqual(f.tensors.map((t) => [t.name, t.shape, t.type]), [['blk.0.attn_q.weight', [6, 4], 'F32'], ['output_norm.weight', [7], 'F16']]);
  assert.deepEqual(Array.from(f.data.get('blk.0.attn_q.weight')!), Array.from(w));
  f.data.get('output_norm.weight')!.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-3 * Math.abs(b[i]) + 1e-7));
  assert.equal(f.dataStart % 32, 0);

  const hf = await gguf(p, { allowLocalFile: true });
  assert.equal(hf.metadata['general.architecture'], 'llama');
  assert.equal(hf.metadata['llama.block_count'], 2);
  assert.deepEqual((hf.metadata as Record<string, unknown>)['tokenizer.ggml.tokens'], ['<s>', 'a', 'bc']);
  assert.deepEqual(hf.tensorInfos.map((t) => [t.name, t.shape.map(Number), Number(t.offset)]), f.tensors.map((t) => [t.name, [...t.shape].reverse(), t.offset]));
});

function expectError(bytes: Uint8Array, pattern: RegExp): void {
  const p = join(dir, 'bad.gguf');
  writeFileSync(p, bytes);
  assert.throws(() => readGguf(p), (e: Error) => e instanceof GgufError && pattern.test(e.message), `expected ${pattern}`);
}

test('malformed files name the problem', () => {
  expectError(Buffer.from('GGUF'), /shorter than a GGUF header/);
  expectError(Buffer.alloc(64), /bad magic/);
  const h = Buffer.alloc(64);
  h.write('GGUF', 0, 'latin1');
  h.writeUInt32LE(9, 4);
  expectError(h, /version 9 is not supported/);
  h.writeUInt32LE(3, 4);
  h.writeBigUInt64LE(2n ** 50n, 8);
  expectError(h, /tensor count .* exceeds the file size/);
  h.writeBigUInt64LE(10n, 8);
  expectError(h, /10 tensors cannot fit in 64 bytes/);
});

test('fuzz: 1,000 mutated files give GgufErrors or valid data', () => {
  const p0 = join(dir, 'seed.gguf');
  writeGguf(p0, metadata, new Map([['t', { shape: [3, 2], data: new Float32Array(6).fill(2) }]]));
  const seed = readFileSync(p0);
  const p = join(dir, 'fuzz.gguf');
  let errors = 0;
  for (let i = 0; i < 1000; i++) {
    const m = Buffer.from(seed);
    let bytes: Buffer = m;
    const kind = r.int(3);
    if (kind === 0) for (let j = 0; j < 1 + r.int(4); j++) m[r.int(m.length)] = r.int(256);
    else if (kind === 1) bytes = m.subarray(0, r.int(m.length));
    else m.writeBigUInt64LE(BigInt(r.int(1 << 30)) * BigInt(1 + r.int(1 << 20)), 8 * (1 + r.int(Math.floor(m.length / 8) - 1)));
    writeFileSync(p, bytes);
    try {
      readGgufHeader(p);
      readGguf(p);
    } catch (e) {
      assert.ok(e instanceof GgufError, `mutation ${i} threw ${(e as Error).name}: ${(e as Error).message}`);
      errors++;
    }
  }
  assert.ok(errors > 300, `mutations are detected (${errors})`);
});
