// safetensors: round trips in every dtype, half-precision conversion against
// exact cases, and a fuzz of mutated files that must each give a clear error
// (never a crash, a hang or a huge allocation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsError, f16ToF32, f32ToBf16, f32ToF16, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/io/safetensors.ts';
import { Rng } from '../../src/core/rng.ts';

const dir = mkdtempSync(join(tmpdir(), 'r1ts-st-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('round trip of F32, I32, F16 and BF16 tensors with metadata', () => {
  const r = new Rng(1);
  const a = Float32Array.from({ length: 12 }, () => r.normal());
  const p = join(dir, 'a.safetensors');
  writeSafetensors(p, new Map<string, { shape: number[]; data: Float32Array | Int32Array; dtype?: 'F32' | 'F16' | 'BF16' | 'I32' }>([
    ['w', { shape: [3, 4], data: a }], ['ids', { shape: [2], data: Int32Array.from([7, -1]) }],
    ['h', { shape: [12], data: a, dtype: 'F16' }], ['b', { shape: [12], data: a, dtype: 'BF16' }],
  ]), { format: 'pt' });
  const { tensors, metadata } = readSafetensors(p);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual(Array.from(tensors.get('w')!.data), Array.from(a));
  assert.deepEqual(tensors.get('w')!.shape, [3, 4]);
  assert.deepEqual(Array.from(tensors.get('ids')!.data), [7, -1]);
  for (const [k, tol] of [['h', 1e-3], ['b', 8e-3]] as const) {
    const d = tensors.get(k)!.data;
    for (let i = 0; i < 12; i++) assert.ok(Math.abs(d[i] - a[i]) <= tol * Math.abs(a[i]) + 1e-7, `${k}[${i}] ${d[i]} vs ${a[i]}`);
  }
  const header = readFileSync(p).readBigUInt64LE(0);
  assert.equal(Number(header) % 8, 0, 'header padded to 8 bytes');
});

test('half-precision conversions round to nearest even and keep specials', () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-2), 0xc000);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(65520), 0x7c00); // rounds up to infinity
  assert.equal(f32ToF16(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  assert.equal(f16ToF32(0x7c00), Infinity);
  for (let h = 0; h < 0x7c00; h += 37) assert.equal(f32ToF16(f16ToF32(h)), h, `f16 ${h} round trip`);
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(f32ToBf16(NaN) & 0x7f80, 0x7f80);
});

function expectError(bytes: Uint8Array, pattern: RegExp): void {
  const p = join(dir, 'bad.safetensors');
  writeFileSync(p, bytes);
  assert.throws(() => readSafetensors(p), (e: Error) => e instanceof SafetensorsError && pattern.test(e.message), `expected ${pattern}`);
}

function fileWithHeader(h: unknown, data = new Uint8Array(8)): Uint8Array {
  const hb = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  return Buffer.concat([len, hb, data]);
}

test('malformed headers get errors that name the tensor and the problem', () => {
  expectError(new Uint8Array(3), /shorter than the 8-byte header length/);
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(2n ** 60n);
  expectError(huge, /header length .* larger than the file allows/);
  expectError(fileWithHeader('x'), /not a JSON object/);
  expectError(Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a"')]), /not valid UTF-8 JSON/);
  expectError(fileWithHeader({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }), /tensor 'w': dtype "F64" is not supported/);
  expectError(fileWithHeader({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), /tensor 'w': shape/);
  expectError(fileWithHeader({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }), /tensor 'w': data_offsets \[0, 16\] are outside/);
  expectError(fileWithHeader({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }), /tensor 'w': 8 bytes do not match F32 × shape \[3\]/);
  expectError(fileWithHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }), /tensor 'b' overlaps/);
  expectError(fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }), /hole before tensor 'a'/);
  expectError(fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }), /4 trailing bytes/);
});

test('fuzz: 1,000 mutated files give errors or valid data, never a crash', () => {
  const r = new Rng(2);
  const p0 = join(dir, 'seed.safetensors');
  writeSafetensors(p0, new Map([['a', { shape: [2, 3], data: new Float32Array(6).fill(1.5) }], ['b', { shape: [4], data: new Float32Array(4) }]]));
  const seed = readFileSync(p0);
  const p = join(dir, 'fuzz.safetensors');
  let errors = 0;
  for (let i = 0; i < 1000; i++) {
    const m = Buffer.from(seed);
    const kind = r.int(4);
    let bytes: Buffer = m;
    if (kind === 0) for (let j = 0; j < 1 + r.int(4); j++) m[r.int(m.length)] = r.int(256);
    else if (kind === 1) bytes = m.subarray(0, r.int(m.length));
    else if (kind === 2) { const at = 8 + r.int(m.length - 8); m[at] = '0123456789[]{},:"-'.charCodeAt(r.int(18)); }
    else m.writeBigUInt64LE(BigInt(r.int(200)), 0);
    writeFileSync(p, bytes);
    try {
      readSafetensorsHeader(p);
      readSafetensors(p);
    } catch (e) {
      assert.ok(e instanceof SafetensorsError, `mutation ${i} threw ${(e as Error).name}: ${(e as Error).message}`);
      errors++;
    }
  }
  assert.ok(errors > 500, `most mutations are detected (${errors})`);
});
