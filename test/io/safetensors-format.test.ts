// The browser-safe safetensors reader (readSafetensorsBytes, used by the dashboard's in-tab
// training on fetched bytes) against the file reader on the shipped base: the same tensors,
// bit for bit; a truncated or corrupted buffer fails with the file reader's validation errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensorsBytes, SafetensorsError } from '../../src/io/safetensors-format.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';

const file = join(resolve(import.meta.dirname, '../../assets/zero-base'), 'model.safetensors');

test('readSafetensorsBytes equals readSafetensors on the shipped base', () => {
  const bytes = new Uint8Array(readFileSync(file));
  const a = readSafetensorsBytes(bytes, 'base');
  const b = readSafetensors(file);
  assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
  for (const [name, t] of b.tensors) {
    const u = a.tensors.get(name)!;
    assert.deepEqual(u.shape, t.shape, name);
    assert.deepEqual(u.data, t.data, name);
  }
  const one = readSafetensorsBytes(bytes, 'base', ['model.norm.weight']);
  assert.deepEqual([...one.tensors.keys()], ['model.norm.weight']);
  assert.throws(() => readSafetensorsBytes(bytes, 'base', ['nope']), /base: no tensor named 'nope'/);
});

test('readSafetensorsBytes validates as the file reader does', () => {
  const bytes = new Uint8Array(readFileSync(file));
  assert.throws(() => readSafetensorsBytes(bytes.subarray(0, bytes.length - 4), 'cut'), (e: Error) => e instanceof SafetensorsError && /cut: .*outside the .*data buffer/.test(e.message));
  assert.throws(() => readSafetensorsBytes(bytes.subarray(0, 5), 'tiny'), /tiny: not a safetensors file: 5 bytes/);
  const bad = bytes.slice();
  bad[8] = 0x5b; // '[' : the header is no longer a JSON object
  assert.throws(() => readSafetensorsBytes(bad, 'bad'), /bad: header is not (valid UTF-8 JSON|a JSON object)/);
});
