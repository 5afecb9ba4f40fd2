// The dashboard's "train in this tab" mode end to end in headless Chromium (Debian's chromium,
// driven by playwright-core) with WebGPU on a software adapter: the page fetches the shipped
// base from /api/zero-base/, opens navigator.gpu and runs one GRPO step of a small
// configuration (1 prompt × 2 completions, seed 10: 303+554 with one right answer, so the group
// has signal) through GrpoTrainer's device path (training on the device; rollouts=host: sampled
// on the page's CPU from a host copy, as the page does by default on a software adapter, where
// device decoding takes minutes); Stop, pressed during that step, ends the run after it. The
// same step then runs in Node on the CPU (openZeroTab with device 'cpu', the reference kernels
// as on the page) and is compared: the completions are equal; the gradient norm, which goes through
// the whole backward pass on the page's WebGPU, within 1e-3 relative (f32 summation order, as
// test/backend/webgpu-train.test.ts); the loss, the mean entropy and the mean ratio π/π_old
// (the training forward's log-probs against the rollout's) within 1e-4; its held-out evaluations
// before and after the step (3 problems) sample the same completions. The page reports its adapter.
// Chromium flags: --enable-unsafe-webgpu (headless Chromium has WebGPU off otherwise); here
// Chromium then picks its SwiftShader Vulkan adapter (Mesa 22.3's lavapipe is not taken).
// Skips saying why without Chromium or without a WebGPU adapter in the page; under CI=true both fail.
// Also: without an adapter (Chromium without the flag) the page says so and the run views still
// work; the server route serves the base's files and refuses other names.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDashboard, WEB_DIST, type RunningDashboard } from '../../src/server/dashboard.ts';
import { currentBackend, useBackend } from '../../src/tensor/index.ts';
import type { GrpoStepMetrics } from '../../src/train/grpo.ts';
import { openZeroTab, ZERO_TAB_DEFAULTS, type ZeroBaseFiles } from '../../src/train/zero-tab.ts';
import { chromiumSkip, findChromium } from '../helpers.ts';

/** window.r1tsTab of web/src/tab.tsx (the fields read here). */
interface TabState {
  phase: string;
  adapter: { description: string; software: boolean } | null;
  adapterText: string;
  error: string | null;
  metrics: GrpoStepMetrics[];
  texts: string[][];
  evals: { step: number; accuracy: number; texts: string[] }[];
  rollouts: 'device' | 'host' | null;
}

const base = resolve(import.meta.dirname, '../../assets/zero-base');
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-dev-shm-usage', '--enable-unsafe-webgpu', '--enable-features=Vulkan'];
const CONFIG = { prompts: 1, group: 2, maxTokens: 56, seed: 10, lr: 1e-4, rollouts: 'host', evalItems: 3, evalEvery: 1 };

const chromiumPath = findChromium();
const skip = chromiumSkip(chromiumPath);

let dash: RunningDashboard;
let runs: string;
before(async () => {
  runs = mkdtempSync(join(tmpdir(), 'r1ts-tab-'));
  dash = await startDashboard({ runsDir: runs, port: 0 });
});
after(async () => {
  await dash.close();
  rmSync(runs, { recursive: true, force: true });
});

test('/api/zero-base/ serves the shipped base read-only and refuses other names', async () => {
  const r = await fetch(`${dash.url}api/zero-base/model.safetensors`);
  assert.equal(r.status, 200);
  assert.deepEqual(new Uint8Array(await r.arrayBuffer()), new Uint8Array(readFileSync(join(base, 'model.safetensors'))));
  const c = await fetch(`${dash.url}api/zero-base/config.json`);
  assert.equal((await c.json() as { model_type: string }).model_type, 'llama');
  for (const bad of ['secret.txt', '..%2Fpackage.json', 'model.safetensors.tmp']) {
    const x = await fetch(`${dash.url}api/zero-base/${bad}`);
    assert.equal(x.status, 404, bad);
    assert.match((await x.json() as { error: string }).error, /expected one of config\.json, model\.safetensors/);
  }
  assert.equal((await fetch(`${dash.url}api/zero-base/%2E%2E/package.json`)).status, 404);
});

test('train in this tab: one GRPO step on the page\'s WebGPU equals the Node CPU step', { skip, timeout: 420_000 }, async (t) => {
  assert.ok(chromiumPath, 'CI=true and no Chromium: `.ci/run` installs Debian\'s chromium (or set CHROMIUM_PATH)');
  assert.ok(existsSync(join(WEB_DIST, 'index.html')), `the dashboard page is not built (${WEB_DIST}/index.html missing): npm run build:web`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath!, headless: true, args: CHROMIUM_FLAGS });
  let state: TabState;
  let adapterShown: string | null;
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // steps=0 (until Stop): Stop is pressed while the first step runs (after the base's evaluation), so the run ends after it
    const q = new URLSearchParams({ tab: 'train', ...Object.fromEntries(Object.entries(CONFIG).map(([k, v]) => [k, String(v)])), steps: '0', autostart: '1' });
    await page.goto(`${dash.url}?${q}`);
    await page.waitForFunction(() => {
      const s = (globalThis as { r1tsTab?: TabState }).r1tsTab;
      return ['done', 'error'].includes(s?.phase ?? '') || (s?.phase === 'running' && s.evals.length > 0);
    }, null, { timeout: 120_000, polling: 200 });
    if (await page.evaluate(() => (globalThis as unknown as { r1tsTab: TabState }).r1tsTab.phase) === 'running') {
      await page.getByTestId('tab-stop').click();
      assert.equal(await page.getByTestId('tab-status').getAttribute('data-phase'), 'stopping');
    }
    await page.waitForFunction(() => ['done', 'error'].includes((globalThis as { r1tsTab?: TabState }).r1tsTab?.phase ?? ''), null, { timeout: 400_000, polling: 500 });
    state = await page.evaluate(() => (globalThis as unknown as { r1tsTab: TabState }).r1tsTab);
    adapterShown = await page.getByTestId('tab-adapter').textContent().catch(() => null);
    mkdirArtifacts();
    await page.screenshot({ path: join(artifacts, 'dashboard-tab.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no uncaught page errors');
  } finally {
    await browser.close();
  }
  if (state.phase === 'error' && /no WebGPU|navigator\.gpu|no adapter/i.test(state.error ?? '')) {
    if (process.env.CI === 'true') throw new Error(`CI=true but the page has no WebGPU adapter: ${state.error}`);
    t.skip(`the page has no WebGPU adapter: ${state.error}`);
    return;
  }
  assert.equal(state.phase, 'done', `the page's run ended in '${state.phase}': ${state.error}`);
  assert.ok(state.adapter && state.adapterText, 'the page reports its adapter');
  assert.match(adapterShown ?? '', /adapter: webgpu /);
  assert.equal(state.metrics.length, 1, 'Stop ended the run after the step under way');
  const m = state.metrics[0];
  t.diagnostic(`page: ${state.adapterText}; step ${m.step_seconds.toFixed(1)} s (rollouts ${m.rollout_tokens_per_s.toFixed(1)} tokens/s, training ${m.train_tokens_per_s.toFixed(1)} tokens/s)`);

  assert.equal(state.rollouts, 'host');
  // the same step in Node on the CPU with the page's host kernels (ref), so the rollouts are sampled alike
  const was = currentBackend().name;
  useBackend('ref');
  t.after(() => useBackend(was));
  const files: ZeroBaseFiles = {
    'config.json': readFileSync(join(base, 'config.json'), 'utf8'),
    'model.safetensors': new Uint8Array(readFileSync(join(base, 'model.safetensors'))),
    'tokenizer.json': readFileSync(join(base, 'tokenizer.json'), 'utf8'),
    'tokenizer_config.json': readFileSync(join(base, 'tokenizer_config.json'), 'utf8'),
  };
  const tab = openZeroTab(files, { ...ZERO_TAB_DEFAULTS, promptsPerStep: CONFIG.prompts, groupSize: CONFIG.group, maxTokens: CONFIG.maxTokens, lr: CONFIG.lr, seed: CONFIG.seed }, 'cpu');
  // held-out evaluations before and after the step (evalEvery 1; the page seeds them with seed + 1)
  const before = await tab.evaluate(CONFIG.evalItems, CONFIG.seed + 1);
  const { metrics: n, rollouts } = await tab.trainer.step();
  const afterStep = await tab.evaluate(CONFIG.evalItems, CONFIG.seed + 1);
  await tab.finish();
  assert.deepEqual(state.texts[0], rollouts.map((r) => r.text), 'the page sampled the same completions');
  assert.deepEqual(state.evals.map((e) => e.step), [0, 1], 'held-out evaluations before the step and after it');
  assert.deepEqual(state.evals[0].texts, before.results.map((r) => r.completions[0]), 'the base\'s held-out completions');
  assert.equal(state.evals[0].accuracy, before.accuracy);
  assert.deepEqual(state.evals[1].texts, afterStep.results.map((r) => r.completions[0]), 'the held-out completions after the step');
  assert.equal(n.zero_variance_groups, 0, 'the configuration has signal (else loss and gradient are 0 on both)');
  assert.equal(m.reward, n.reward);
  const close = (a: number, b: number, rel: number, what: string) =>
    assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)), `${what}: page ${a} vs Node ${b} (relative tolerance ${rel})`);
  close(m.grad_norm, n.grad_norm, 1e-3, 'gradient norm');
  close(m.loss, n.loss, 1e-4, 'loss');
  assert.ok(Math.abs(m.ratio - n.ratio) <= 1e-4, `mean ratio: page ${m.ratio} vs Node ${n.ratio}`);
  close(m.entropy, n.entropy, 1e-4, 'entropy');
});

test('train in this tab: without a WebGPU adapter the page says so and what to do', { skip, timeout: 120_000 }, async () => {
  assert.ok(chromiumPath, 'CI=true and no Chromium');
  const { chromium } = await import('playwright-core');
  // headless Chromium without --enable-unsafe-webgpu: navigator.gpu exists but gives no adapter
  const browser = await chromium.launch({ executablePath: chromiumPath!, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.goto(`${dash.url}?tab=train&autostart=1`);
    await page.waitForFunction(() => (globalThis as { r1tsTab?: TabState }).r1tsTab?.phase === 'error', null, { timeout: 60_000 });
    const shown = await page.getByTestId('tab-error').textContent();
    assert.match(shown ?? '', /no WebGPU adapter: the GPU object \(navigator\.gpu\) returned none.*--enable-unsafe-webgpu|exposes no WebGPU/);
    // the run views still work beside it
    await page.getByTestId('tab-curves').click();
    await page.getByText('No runs yet.').waitFor();
  } finally {
    await browser.close();
  }
});

const artifacts = resolve(import.meta.dirname, '../../test-artifacts');
function mkdirArtifacts(): void {
  mkdirSync(artifacts, { recursive: true });
}
