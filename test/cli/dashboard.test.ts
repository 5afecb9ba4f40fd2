// The dashboard end to end in real headless Chromium (playwright-core driving the
// system's Chromium, e.g. Debian's `chromium`): a short real GRPO run started with
// `r1ts zero --dashboard`, the page opened at the URL it prints; the reward chart's
// point count grows while the run goes on; a sample opens and its reasoning reads as
// in samples.jsonl; the incorrect filter shows only incorrect samples; a screenshot is
// saved to test-artifacts/dashboard.png. Then a 100,000-step synthetic metrics file:
// the time until its charts are drawn is printed (not asserted) and the points drawn
// stay bounded by the server's downsampling. Without Chromium the browser part skips
// saying why, except under CI=true, where it fails. Also --dashboard flag parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { takeDashboardFlag } from '../../src/cli/dashboard.ts';
import { WEB_DIST } from '../../src/server/dashboard.ts';
import { chromiumSkip, findChromium } from '../helpers.ts';

const root = resolve(import.meta.dirname, '../..');
/** In-page expression: the reward chart's point count. */
const REWARD_POINTS = `Number(document.querySelector('[data-testid="chart-reward"]')?.getAttribute('data-points'))`;

test('--dashboard [PORT] is taken out of a command\'s arguments', () => {
  assert.deepEqual(takeDashboardFlag(['--steps', '3']), { args: ['--steps', '3'], port: null });
  assert.deepEqual(takeDashboardFlag(['--dashboard', '--steps', '3']), { args: ['--steps', '3'], port: undefined });
  assert.deepEqual(takeDashboardFlag(['--steps', '3', '--dashboard']), { args: ['--steps', '3'], port: undefined });
  assert.deepEqual(takeDashboardFlag(['--dashboard', '8123', '--steps', '3']), { args: ['--steps', '3'], port: 8123 });
  assert.deepEqual(takeDashboardFlag(['--dashboard=0']), { args: [], port: 0 });
  assert.throws(() => takeDashboardFlag(['--dashboard=99999']), /--dashboard 99999: expected a port number/);
});


const chromiumPath = findChromium();
const skip = chromiumSkip(chromiumPath);

test('live dashboard of a real GRPO run in headless Chromium', { skip, timeout: 240_000 }, async () => {
  assert.ok(chromiumPath, 'CI=true and no Chromium: `.ci/run` installs Debian\'s chromium (or set CHROMIUM_PATH)');
  assert.ok(existsSync(join(WEB_DIST, 'index.html')), `the dashboard page is not built (${WEB_DIST}/index.html missing): npm run build:web`);
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-dash-e2e-'));
  const runs = join(dir, 'runs');
  const out = join(runs, 'e2e');
  let child: ChildProcess | null = null;
  const browser = await chromium.launch({ executablePath: chromiumPath!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    // a short real GRPO run: tiny batches so a step takes a second or two on 2 cores
    child = spawn(process.execPath, [join(root, 'bin/r1ts.mjs'), 'zero', '--dashboard', '0', '--out', out, '--steps', '40', '--minutes', '3',
      '--prompts', '2', '--group', '4', '--max-tokens', '64', '--no-dynamic-sampling', '--beta', '0.01', '--eval-every', '3', '--eval-items', '4', '--final-eval-items', '4', '--no-progress'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, R1TS_THREADS: process.env.R1TS_THREADS ?? '1' } });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const url = await new Promise<string>((ok, fail) => {
      const t = setInterval(() => {
        const m = /dashboard: (http:\/\/\S+)/.exec(log);
        if (m) {
          clearInterval(t);
          ok(m[1]);
        }
      }, 50);
      child!.on('exit', (code) => {
        clearInterval(t);
        fail(new Error(`r1ts zero exited (${code}) before printing the dashboard URL:\n${log}`));
      });
    });
    assert.match(url, /\?run=e2e$/);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);

    // the reward chart appears and its point count grows while the run goes on
    const chart = page.getByTestId('chart-reward');
    await chart.waitFor({ timeout: 120_000 });
    const points = async () => Number(await chart.getAttribute('data-points'));
    const first = await points();
    assert.ok(first >= 1, `reward chart has ${first} points`);
    await page.waitForFunction(`${REWARD_POINTS} > ${first}`, undefined, { timeout: 120_000, polling: 200 });
    const later = await points();
    console.log(`# reward chart points while the run goes on: ${first} → ${later}`);
    assert.ok(later > first);
    assert.ok(await chart.locator('canvas').count() >= 1, 'uPlot drew a canvas');
    for (const id of ['accuracy', 'length', 'truncated', 'kl', 'entropy', 'clip', 'loss', 'lr', 'throughput']) {
      assert.equal(await page.getByTestId(`chart-${id}`).count(), 1, `the ${id} chart is drawn`);
    }

    // the sample browser: open one sample and read its reasoning, as in samples.jsonl
    await page.getByTestId('tab-samples').click();
    const firstSample = page.getByTestId('sample').first();
    await firstSample.waitFor({ timeout: 30_000 });
    await firstSample.locator('button.sample-head').click();
    const reasoning = (await firstSample.getByTestId('reasoning').textContent()) ?? '';
    const prompt = (await firstSample.locator('.prompt-full').textContent())?.replace(/^Prompt:\s*/, '') ?? '';
    const lines = readFileSync(join(out, 'samples.jsonl'), 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as { prompt: string; completion: string; correct: boolean });
    const match = lines.filter((s) => s.prompt === prompt);
    assert.ok(match.length > 0, `the opened sample's prompt '${prompt}' is in samples.jsonl`);
    assert.ok(match.some((s) => s.completion.replace(/^\s*<think>/, '').trim().startsWith(reasoning.trim())), `reasoning '${reasoning}' is the start of a completion of '${prompt}'`);

    // the same prompt across steps, side by side
    await firstSample.getByRole('button', { name: 'Same prompt across steps' }).click();
    const across = page.locator('section.across');
    await across.locator('article.card').first().waitFor({ timeout: 15_000 });
    assert.equal(await across.locator('h3 code').textContent(), prompt);
    await across.getByRole('button', { name: 'Close' }).click();

    // search: only samples whose prompt or completion holds the text
    const needle = prompt.slice(0, 10);
    await page.getByTestId('search').fill(needle);
    await page.waitForFunction(`[...document.querySelectorAll('[data-testid="sample"] .prompt')].length > 0 && [...document.querySelectorAll('[data-testid="sample"] .prompt')].every((e) => e.textContent.includes(${JSON.stringify(needle)}))`, undefined, { timeout: 15_000 });
    await page.getByTestId('search').fill('');

    // filter: incorrect only
    await page.getByTestId('filter').selectOption('incorrect');
    await page.waitForFunction(`(() => {
      const items = [...document.querySelectorAll('[data-testid="sample"]')];
      return items.length > 0 && items.every((e) => e.getAttribute('data-correct') === 'false');
    })()`, undefined, { timeout: 15_000 });
    const shown = await page.getByTestId('sample').evaluateAll((els) => els.map((e) => e.getAttribute('data-correct')));
    assert.ok(shown.length > 0 && shown.every((c) => c === 'false'), `after the filter: ${shown.join(',')}`);
    assert.ok(lines.some((s) => s.correct === false));
    mkdirSync(join(root, 'test-artifacts'), { recursive: true });
    await page.getByTestId('tab-curves').click();
    await page.locator('select').first().selectOption('elapsed'); // wall-clock x axis
    await page.waitForFunction(`document.querySelector('[data-testid="chart-reward"] .u-legend .u-series .u-label')?.textContent === 'min'`, undefined, { timeout: 15_000 });
    await page.screenshot({ path: join(root, 'test-artifacts', 'dashboard-curves.png'), fullPage: true });
    await page.getByTestId('tab-samples').click();
    await page.getByTestId('sample').first().locator('button.sample-head').click();
    await page.screenshot({ path: join(root, 'test-artifacts', 'dashboard.png'), fullPage: true });
    console.log(`# screenshots: ${join(root, 'test-artifacts', 'dashboard.png')}, dashboard-curves.png`);

    // a 100,000-step metrics file: drawn downsampled; the time to the first drawn charts is printed
    child.kill('SIGKILL');
    child = null;
    const big = join(runs, 'big');
    mkdirSync(big, { recursive: true });
    const rows: string[] = [];
    for (let i = 1; i <= 100_000; i++) {
      rows.push(JSON.stringify({ step: i, time: 1.7e9 + i, reward: Math.sin(i / 3000) + 0.1 * Math.sin(i), accuracy: i / 100_000, completion_tokens: 40 + 20 * Math.cos(i / 5000), completion_tokens_max: 96, truncated: 0.01, kl: 1e-3 * Math.sqrt(i), entropy: 1 / Math.sqrt(i), clip_fraction: 0.02, loss: 1 / i, lr: 1e-4, grad_norm: 1, rollout_tokens_per_s: 700 }));
    }
    writeFileSync(join(big, 'metrics.jsonl'), rows.join('\n') + '\n');
    const bigUrl = new URL(url);
    bigUrl.search = '?run=big';
    const page2 = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page2.on('pageerror', (e) => errors.push(String(e)));
    // a fresh server over the same folder: the run's own dashboard closed with the run
    const { startDashboard } = await import('../../src/server/dashboard.ts');
    const d = await startDashboard({ runsDir: runs, port: 0 });
    try {
      // the server's first read of the file (parse, columns, downsampling), then the page on a warm server
      const t0 = performance.now();
      const cold = (await (await fetch(`${d.url}api/runs/big/metrics`)).json()) as { rows: number; points: number };
      const serverMs = performance.now() - t0;
      assert.deepEqual([cold.rows, cold.points <= 2000], [100_000, true]);
      const t1 = performance.now();
      await page2.goto(`${d.url}?run=big`);
      await page2.waitForFunction(`${REWARD_POINTS} > 0 && document.querySelectorAll('.chart canvas').length >= 8`, undefined, { timeout: 60_000, polling: 'raf' });
      const pageMs = performance.now() - t1;
      const drawn = Number(await page2.getByTestId('chart-reward').getAttribute('data-points'));
      console.log(`# 100,000-step metrics file (${(rows.join('\n').length / 1e6).toFixed(1)} MB): server first read ${serverMs.toFixed(0)} ms; page load to ${await page2.locator('.chart canvas').count()} charts drawn ${pageMs.toFixed(0)} ms; ${drawn} points per curve`);
      assert.ok(drawn > 100 && drawn <= 2000, `downsampled to ${drawn} points`);
      // responsive: the smoothing slider redraws every chart
      const t2 = performance.now();
      await page2.locator('input[type=range]').fill('0.9');
      await page2.waitForFunction(`document.querySelector('output')?.textContent === '0.90'`, undefined, { polling: 'raf' });
      await page2.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      console.log(`# 100,000-step metrics file: smoothing change redrawn in ${(performance.now() - t2).toFixed(0)} ms`);
      await page2.screenshot({ path: join(root, 'test-artifacts', 'dashboard-100k.png') });

      // two runs overlaid: one reward line per run
      await page2.goto(`${d.url}?run=big,e2e`);
      await page2.waitForFunction(`document.querySelector('[data-testid="chart-reward"] .u-legend')?.textContent.includes('e2e: reward')`, undefined, { timeout: 30_000 });
      const legend = (await page2.getByTestId('chart-reward').locator('.u-legend').textContent()) ?? '';
      assert.match(legend, /big: reward/);

      // MoE expert load: one heatmap per layer
      const moe = join(runs, 'moe');
      mkdirSync(moe);
      writeFileSync(join(moe, 'metrics.jsonl'), Array.from({ length: 50 }, (_, i) => JSON.stringify({ step: i + 1, time: 1.7e9 + i, loss: 1, expert_load: [[1 + i / 50, 1, 1 - i / 50, 1], [2, 0, 1, 1]] })).join('\n') + '\n');
      await page2.goto(`${d.url}?run=moe&tab=experts`);
      await page2.locator('.heatmap canvas').nth(1).waitFor({ timeout: 30_000 });
      assert.equal(await page2.locator('.heatmap canvas').count(), 2);
      assert.match((await page2.locator('.heatmap figcaption').first().textContent()) ?? '', /layer 0 — 4 experts × 50 steps/);
      await page2.screenshot({ path: join(root, 'test-artifacts', 'dashboard-experts.png') });
    } finally {
      await d.close();
    }
    assert.deepEqual(errors, [], 'no page errors');
  } finally {
    child?.kill('SIGKILL');
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
