// The dashboard end to end in real headless Firefox: Debian's firefox-esr driven over
// WebDriver BiDi by puppeteer-core (playwright's own Firefox build cannot be installed
// offline). A small pre-written run folder (the Chromium test, dashboard.test.ts, covers a
// live training run): the runs list loads, the reward chart shows one point per step and
// grows when lines are appended (server-sent events), a sample opens and its reasoning reads
// as in samples.jsonl, the incorrect filter shows only incorrect samples; a screenshot goes
// to test-artifacts/dashboard-firefox.png (and -curves.png). Without Firefox it skips saying why, except under
// CI=true, where it fails (`.ci/run` installs firefox-esr).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDashboard, WEB_DIST } from '../../src/server/dashboard.ts';

const root = resolve(import.meta.dirname, '../..');
/** In-page expression: the reward chart's point count. */
const REWARD_POINTS = `Number(document.querySelector('[data-testid="chart-reward"]')?.getAttribute('data-points'))`;

function findFirefox(): string | null {
  const env = process.env.FIREFOX_PATH;
  if (env) return existsSync(env) ? env : null;
  for (const p of ['/usr/bin/firefox-esr', '/usr/bin/firefox']) if (existsSync(p)) return p;
  return null;
}

const firefoxPath = findFirefox();
const skip = firefoxPath || process.env.CI === 'true' ? false : 'no Firefox found (install Debian\'s `firefox-esr`, or set FIREFOX_PATH); CI=true makes this a failure';

const metricsLine = (step: number) => JSON.stringify({
  step, time: 1.7e9 + 2 * step, reward: 0.2 + step / 40, 'reward/correct': step / 40, accuracy: step / 40, completion_tokens: 30 + step, completion_tokens_max: 60,
  truncated: 0, kl: 1e-3 * step, entropy: 1 / step, clip_fraction: 0.01, loss: 0.5 / step, lr: 1e-5, rollout_tokens_per_s: 500,
});

const SAMPLES = [
  { step: 1, prompt: 'What is 17+25?', completion: '<think>17+25 is about 40</think> <answer>40</answer>', rewards: { total: 0, correct: 0 }, correct: false },
  { step: 1, prompt: 'What is 8+5?', completion: '<think>8+5=13</think> <answer>13</answer>', rewards: { total: 1, correct: 1 }, correct: true },
  { step: 2, prompt: 'What is 17+25?', completion: '<think>7+5=12, carry 1; 1+2+1=4. Wait, check: 42-25=17.</think> <answer>42</answer>', rewards: { total: 1, correct: 1 }, correct: true },
  { step: 2, prompt: 'What is 9+9?', completion: '<think>9+9 is 19</think> <answer>19</answer>', rewards: { total: 0, correct: 0 }, correct: false },
];

test('dashboard in headless Firefox (WebDriver BiDi): runs, a chart, a sample\'s reasoning, the incorrect filter', { skip, timeout: 120_000 }, async () => {
  assert.ok(firefoxPath, 'CI=true and no Firefox: `.ci/run` installs Debian\'s firefox-esr (or set FIREFOX_PATH)');
  assert.ok(existsSync(join(WEB_DIST, 'index.html')), `the dashboard page is not built (${WEB_DIST}/index.html missing): npm run build:web`);
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-dash-ff-'));
  const runs = join(dir, 'runs');
  const run = join(runs, 'ff-run');
  mkdirSync(run, { recursive: true });
  mkdirSync(join(runs, 'other-run'));
  writeFileSync(join(runs, 'other-run', 'metrics.jsonl'), metricsLine(1) + '\n');
  writeFileSync(join(run, 'metrics.jsonl'), Array.from({ length: 20 }, (_, i) => metricsLine(i + 1)).join('\n') + '\n');
  writeFileSync(join(run, 'samples.jsonl'), SAMPLES.map((s) => JSON.stringify(s)).join('\n') + '\n');
  const d = await startDashboard({ runsDir: runs, port: 0 });
  const { launch } = await import('puppeteer-core');
  const browser = await launch({ browser: 'firefox', executablePath: firefoxPath!, headless: true, timeout: 60_000 });
  try {
    assert.match(await browser.version(), /firefox/i);
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${d.url}?run=ff-run`);

    // the runs list
    await page.waitForFunction(`document.querySelectorAll('aside.runs li').length === 2`, { timeout: 30_000 });
    const names = await page.$$eval('aside.runs li button', (els) => els.map((e) => e.textContent));
    assert.deepEqual(names.sort(), ['ff-run', 'other-run']);

    // the reward chart: one point per step, drawn by uPlot, and more as lines are appended
    await page.waitForFunction(`${REWARD_POINTS} === 20`, { timeout: 30_000 });
    assert.ok(await page.$('[data-testid="chart-reward"] canvas'), 'uPlot drew a canvas');
    for (const id of ['accuracy', 'length', 'kl', 'entropy', 'loss', 'lr']) assert.ok(await page.$(`[data-testid="chart-${id}"] canvas`), `the ${id} chart is drawn`);
    appendFileSync(join(run, 'metrics.jsonl'), [21, 22, 23].map(metricsLine).join('\n') + '\n');
    await page.waitForFunction(`${REWARD_POINTS} === 23`, { timeout: 30_000 });
    mkdirSync(join(root, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-artifacts', 'dashboard-firefox-curves.png'), fullPage: true });

    // the sample browser: the newest sample first; open it and read its reasoning
    await page.click('[data-testid="tab-samples"]');
    await page.waitForFunction(`document.querySelectorAll('[data-testid="sample"]').length === 4`, { timeout: 30_000 });
    await page.click('[data-testid="sample"] button.sample-head');
    await page.waitForSelector('[data-testid="sample"] [data-testid="reasoning"]', { timeout: 15_000 });
    const reasoning = await page.$eval('[data-testid="sample"] [data-testid="reasoning"]', (e) => e.textContent);
    const answer = await page.$eval('[data-testid="sample"] [data-testid="answer"]', (e) => e.textContent);
    assert.equal(reasoning, '9+9 is 19'); // samples.jsonl's last line, between <think> and </think>
    assert.equal(answer, '19');

    // filter: incorrect only
    await page.select('[data-testid="filter"]', 'incorrect');
    await page.waitForFunction(`(() => {
      const items = [...document.querySelectorAll('[data-testid="sample"]')];
      return items.length === 2 && items.every((e) => e.getAttribute('data-correct') === 'false');
    })()`, { timeout: 15_000 });
    const prompts = await page.$$eval('[data-testid="sample"] .prompt', (els) => els.map((e) => e.textContent));
    assert.deepEqual(prompts, ['What is 9+9?', 'What is 17+25?']);
    // a reflection word is highlighted in a correct answer
    await page.select('[data-testid="filter"]', 'correct');
    await page.waitForFunction(`[...document.querySelectorAll('[data-testid="sample"]')].length === 2 && [...document.querySelectorAll('[data-testid="sample"]')].every((e) => e.getAttribute('data-correct') === 'true')`, { timeout: 15_000 });
    await page.click('[data-testid="sample"] button.sample-head');
    await page.waitForSelector('[data-testid="reasoning"] mark.reflect', { timeout: 15_000 });
    const marks = await page.$$eval('[data-testid="reasoning"] mark.reflect', (els) => els.map((e) => e.textContent));
    assert.deepEqual(marks, ['Wait', 'check']);

    await page.screenshot({ path: join(root, 'test-artifacts', 'dashboard-firefox.png'), fullPage: true });
    console.log(`# Firefox ${await browser.version()}; screenshot: ${join(root, 'test-artifacts', 'dashboard-firefox.png')}`);
    assert.deepEqual(errors, [], 'no page errors');
  } finally {
    await browser.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
