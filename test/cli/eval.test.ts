// r1ts eval end to end: a tiny random model saved as a Hugging Face directory
// with the fixture tokenizer, --task add --limit 3: the table prints, the JSON
// report holds config, metrics and completions, --resume generates nothing new;
// the endpoint path against the fake server; flag errors name the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { buildModel, saveHfModel } from '../../src/io/hf.ts';
import { densePreset } from '../../src/models/config.ts';
import { fakeServer } from '../eval/openai-source.test.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-eval-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(root, 'bin/r1ts.mjs');
const run = (...a: string[]) => spawnSync(process.execPath, [bin, ...a], { cwd: root, encoding: 'utf8' });
/** Runs the CLI without blocking this process's event loop (the fake server lives here). */
const runAsync = (...a: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
  const p = spawn(process.execPath, [bin, ...a], { cwd: root, env: { ...process.env, OPENAI_API_KEY: 'sk-test' } });
  let stdout = '', stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  p.on('close', (status) => res({ status, stdout, stderr }));
});

test('r1ts eval on a tiny model dir: table, JSON report, resume', () => {
  const hf = join(dir, 'hf');
  saveHfModel(buildModel(densePreset(1, 330, 64), new Rng(5)), hf);
  copyFileSync(join(root, 'test/fixtures/tokenizer/tiny-bpe.json'), join(hf, 'tokenizer.json'));
  const out = join(dir, 'report.json');
  const r = run('eval', '--task', 'add', '--model', hf, '--limit', '3', '--k', '2', '--max-tokens', '4', '--template', 'plain', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\| task \| items \| k \| pass@1 \| pass@k \| cons@k \| format \|/);
  assert.match(r.stdout, /\| add \| 3 \| 2 \| /);
  const rep = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual([rep.config.task, rep.config.k, rep.config.temperature, rep.config.top_p, rep.config.template], ['add', 2, 0.6, 0.95, 'plain']);
  assert.equal(rep.results.length, 3);
  assert.equal(rep.results[0].completions.length, 2);
  assert.ok('pass_at_1_ci95' in rep.metrics && 'cons_at_k' in rep.metrics);
  assert.equal(readFileSync(`${out}.results.jsonl`, 'utf8').trim().split('\n').length, 3);
  const again = run('eval', '--task', 'add', '--model', hf, '--limit', '3', '--k', '2', '--max-tokens', '4', '--template', 'plain', '--out', out, '--resume');
  assert.equal(again.status, 0, again.stderr);
  const rep2 = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(rep2.metrics.resumed, 3);
  assert.deepEqual(rep2.results.map((x: { completions: string[] }) => x.completions), rep.results.map((x: { completions: string[] }) => x.completions));
  const greedy = run('eval', '--task', 'add', '--model', hf, '--limit', '2', '--temperature', '0', '--max-tokens', '3', '--template', 'plain');
  assert.equal(greedy.status, 0, greedy.stderr);
  assert.match(greedy.stdout, /\| add \| 2 \| 1 \| /);
});

test('r1ts eval against an OpenAI-compatible endpoint (a JSONL task, retries)', async () => {
  const srv = await fakeServer({ fail429: 1, fail500: 1 });
  try {
    const p = join(dir, 'sums.jsonl');
    writeFileSync(p, '{"question":"What is 2+3?","answer":"5"}\n{"question":"What is 10+7?","answer":17}\n');
    const r = await runAsync('eval', '--task', p, '--grader', 'integer', '--base-url', srv.url, '--api-model', 'fake', '--k', '2', '--concurrency', '2');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\| sums \| 2 \| 2 \| 100\.0 ± 0\.0 \| 100\.0 ± 0\.0 \| 100\.0 ± 0\.0 \|/);
  } finally {
    await srv.close();
  }
});

test('r1ts eval flag errors name the flag', () => {
  assert.match(run('eval', '--task', 'add').stderr, /give exactly one of --model DIR or --base-url URL/);
  assert.match(run('eval', '--task', 'nope', '--base-url', 'http://x/v1', '--api-model', 'm').stderr, /unknown task 'nope'/);
  assert.match(run('eval', '--task', 'add', '--base-url', 'http://x/v1', '--api-model', 'm').stderr, /give --limit N/);
  assert.match(run('eval', '--task', 'add', '--base-url', 'http://x/v1', '--api-model', 'm', '--limit', '2', '--temperature', '0', '--k', '4').stderr, /greedy samples are all the same/);
  assert.match(run('eval', '--task', 'add', '--base-url', 'http://x/v1', '--api-model', 'm', '--resume').stderr, /--resume needs --out/);
  assert.match(run('eval', '--help').stdout, /usage: r1ts eval --task TASK/);
});

test('the same model graded over HTTP (r1ts serve) and in-process gives the same per-item verdicts at temperature 0', async () => {
  const { startServer } = await import('../../src/server/server.ts');
  const hf = join(dir, 'hf-serve');
  // a model that writes digits: the shipped zero base, so verdicts are not trivially all wrong
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) copyFileSync(join(root, 'assets/zero-base', f), join(mkdirp(hf), f));
  // a plain chat template of the model's own, which both the server and `eval --template chat` use
  const cfg = JSON.parse(readFileSync(join(root, 'assets/zero-base/tokenizer_config.json'), 'utf8'));
  writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify({ ...cfg, chat_template: "{{ eos_token }}User: {{ messages[-1]['content'] }}\nAssistant:" }));
  const server = await startServer({ modelDir: hf, port: 0, modelName: 'base' });
  try {
    const local = join(dir, 'local.json');
    const remote = join(dir, 'remote.json');
    const common = ['--task', 'add', '--limit', '12', '--temperature', '0', '--max-tokens', '40'];
    const a = await runAsync('eval', ...common, '--model', hf, '--template', 'chat', '--out', local);
    assert.equal(a.status, 0, a.stderr);
    const b = await runAsync('eval', ...common, '--base-url', `${server.url}/v1`, '--api-model', 'base', '--out', remote);
    assert.equal(b.status, 0, b.stderr);
    type Row = { id: string; answers: (string | null)[]; correct: boolean[] };
    const ra = JSON.parse(readFileSync(local, 'utf8')).results as Row[];
    const rb = JSON.parse(readFileSync(remote, 'utf8')).results as Row[];
    assert.deepEqual(rb.map((r) => r.id), ra.map((r) => r.id));
    assert.deepEqual(rb.map((r) => r.answers), ra.map((r) => r.answers), 'the extracted answers differ between HTTP and in-process');
    assert.deepEqual(rb.map((r) => r.correct), ra.map((r) => r.correct));
    assert.ok(ra.some((r) => r.answers[0] !== null), 'the model should answer with numbers');
  } finally {
    await server.close();
  }
});

function mkdirp(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}
