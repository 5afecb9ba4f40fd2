// Crash-safe JSON-lines files: torn last lines skipped (or repaired), malformed middle lines named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendJsonl, readJsonl } from '../../src/core/jsonl.ts';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'r1ts-jsonl-'));
}

test('readJsonl skips a torn final line but names a malformed middle line', () => {
  const dir = tmp();
  try {
    const p = join(dir, 'm.jsonl');
    writeFileSync(p, '{"step":1}\n{"step":2}\n{"step":3,"lo');
    assert.deepEqual(readJsonl(p), [{ step: 1 }, { step: 2 }]);
    writeFileSync(p, '{"step":1}\n{"st\n{"step":3}\n');
    assert.throws(() => readJsonl(p), /m\.jsonl:2: not valid JSON/);
    assert.deepEqual(readJsonl(join(dir, 'missing.jsonl')), []);
    writeFileSync(p, '{"step":1}\n{"step":2,"lo');
    assert.throws(() => readJsonl(p, { strict: true }), /m\.jsonl:2: not valid JSON/, 'strict: an input file with a torn end is malformed, not skipped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('repair cuts a torn tail and restores a lost newline, so appends start clean lines', () => {
  const dir = tmp();
  try {
    const p = join(dir, 'r.jsonl');
    writeFileSync(p, '{"a":1}\n{"a":2,"b');
    assert.deepEqual(readJsonl(p, { repair: true }), [{ a: 1 }]);
    assert.equal(readFileSync(p, 'utf8'), '{"a":1}\n');
    writeFileSync(p, '{"a":1}\n{"a":2}');
    assert.deepEqual(readJsonl(p, { repair: true }), [{ a: 1 }, { a: 2 }]);
    appendJsonl(p, { a: 3 });
    assert.deepEqual(readJsonl(p), [{ a: 1 }, { a: 2 }, { a: 3 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readJsonlFrom returns only whole lines after an offset and leaves a torn tail for later', async () => {
  const { readJsonlFrom } = await import('../../src/core/jsonl.ts');
  const dir = tmp();
  try {
    const p = join(dir, 't.jsonl');
    assert.deepEqual(readJsonlFrom(p, 0), { records: [], next: 0, reset: false, bad: [] });
    writeFileSync(p, '{"a":1}\n{"a":"é"}\n{"a":3');
    const r1 = readJsonlFrom(p, 0);
    assert.deepEqual(r1.records, [{ a: 1 }, { a: 'é' }]);
    assert.equal(r1.next, Buffer.byteLength('{"a":1}\n{"a":"é"}\n'));
    assert.deepEqual(readJsonlFrom(p, r1.next).records, []);
    writeFileSync(p, '{"a":1}\n{"a":"é"}\n{"a":3}\nnot json\n');
    const r2 = readJsonlFrom(p, r1.next);
    assert.deepEqual(r2.records, [{ a: 3 }]);
    assert.equal(r2.bad.length, 1);
    assert.equal(r2.bad[0].offset, r1.next + '{"a":3}\n'.length);
    writeFileSync(p, '{"b":1}\n'); // rewritten shorter: starts over
    const r3 = readJsonlFrom(p, r2.next);
    assert.equal(r3.reset, true);
    assert.deepEqual(r3.records, [{ b: 1 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
