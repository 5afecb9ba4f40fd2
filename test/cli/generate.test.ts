// r1ts generate through the real command: a tiny random model saved as a Hugging
// Face directory with the fixture tokenizer.json; greedy output equals the
// engine's, -n prints one block per sample, a missing tokenizer is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildModel, saveHfModel } from '../../src/io/hf.ts';
import { Rng } from '../../src/core/rng.ts';
import { densePreset } from '../../src/models/config.ts';
import { Engine } from '../../src/engine/generate.ts';
import { loadHfTokenizer } from '../../src/tokenizer/index.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-gen-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const run = (...a: string[]) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...a], { cwd: root, encoding: 'utf8' });
const tokJson = join(root, 'test/fixtures/tokenizer/tiny-bpe.json');

test('generate streams the greedy completion; -n prints every sample; no tokenizer is an error', async () => {
  const m = buildModel(densePreset(1, 330, 64), new Rng(5));
  const hf = join(dir, 'hf');
  saveHfModel(m, hf);
  copyFileSync(tokJson, join(hf, 'tokenizer.json'));
  const tok = loadHfTokenizer(tokJson);
  const [want] = await new Engine(m, { maxBatch: 1 }).generate([{ prompt: tok.encode('hello world'), maxTokens: 6, sampling: { temperature: 0 } }]);
  const r = run('generate', hf, '--prompt', 'hello world', '--max-tokens', '6', '--temperature', '0');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, tok.decode(want.tokens, { skipSpecialTokens: true }) + '\n');
  const n = run('generate', hf, '--prompt', 'hi', '--max-tokens', '3', '-n', '3', '--seed', '1', '--top-k', '5');
  assert.equal(n.status, 0, n.stderr);
  assert.equal((n.stdout.match(/^=== sample \d \(\d+ tokens, (length|stop)\) ===$/gm) ?? []).length, 3);
  const bare = join(dir, 'bare', 'hf');
  mkdirSync(join(dir, 'bare'));
  saveHfModel(m, bare);
  const e = run('generate', bare, '--prompt', 'x');
  assert.equal(e.status, 1);
  assert.match(e.stderr, /no tokenizer\.json in the model directory/);
  const b = run('generate', hf, '--prompt', 'x', '--top-p', '3');
  assert.equal(b.status, 1);
  assert.match(b.stderr, /topP 3 is outside \(0, 1\]/);
  assert.match(run('generate', '--help').stdout, /usage: r1ts generate <model-path> --prompt TEXT/);
});
