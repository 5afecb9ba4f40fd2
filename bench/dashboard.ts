// The dashboard's cold path on a 100,000-step run: a metrics.jsonl shaped like a GRPO
// run's (step, time and 22 figures at full double precision) is written to a temp
// folder; then, each time against a fresh server process (nothing parsed, JIT cold):
//   server — the first GET /api/runs/NAME/metrics (read, parse, columns, downsample, JSON);
//   page   — headless Chromium opening the page on a fresh server until all its charts are
//            drawn (the whole cold path a user waits for: server read + page).
// Median of --trials (default 3). No external anchor: the target (issue #11) is 2 s for the
// page, printed beside the figure as a ratio. Needs Chromium (CHROMIUM_PATH or Debian's).
// --light: the browser test's lighter rows instead (14 figures of smooth curves, fewer digits).
// Usage: npx tsx bench/dashboard.ts [--steps N] [--trials K] [--light] [--json]
// Not here: correctness (test/server/run-data.test.ts, test/cli/dashboard.test.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboard } from '../src/server/dashboard.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

// child mode: one fresh dashboard server over a runs folder, printing its URL
if (args[0] === '--serve') {
  const d = await startDashboard({ runsDir: args[1], port: 0 });
  console.log(`url ${d.url}`);
  process.on('SIGTERM', () => void d.close().then(() => process.exit(0)));
} else await main();

async function main(): Promise<void> {
  const json = args.includes('--json'), light = args.includes('--light');
  const steps = flag('steps', 100_000), trials = flag('trials', 3);
  const TARGET_MS = 2000;
  const chromiumPath = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
  if (!chromiumPath) throw new Error('no Chromium found: install Debian\'s chromium or set CHROMIUM_PATH');

  const dir = mkdtempSync(join(tmpdir(), 'r1ts-bench-dash-'));
  const runDir = join(dir, 'big');
  mkdirSync(runDir);
  // a GRPO-shaped run: figures with every digit JSON.stringify gives a double
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const lines: string[] = [];
  for (let i = 1; i <= steps; i++) {
    const acc = Math.min(1, i / steps + 0.1 * rand());
    if (light) {
      lines.push(JSON.stringify({ step: i, time: 1.7e9 + i, reward: Math.sin(i / 3000) + 0.1 * Math.sin(i), accuracy: i / steps, completion_tokens: 40 + 20 * Math.cos(i / 5000), completion_tokens_max: 96, truncated: 0.01, kl: 1e-3 * Math.sqrt(i), entropy: 1 / Math.sqrt(i), clip_fraction: 0.02, loss: 1 / i, lr: 1e-4, grad_norm: 1, rollout_tokens_per_s: 700 }));
      continue;
    }
    lines.push(JSON.stringify({
      step: i, time: 1.7e9 + i * 1.37 + rand(), reward: acc + 0.2 * rand(), 'reward/correct': acc, 'reward/format': 0.9 + 0.1 * rand(),
      accuracy: acc, format: 0.95 + 0.05 * rand(), completion_tokens: 40 + 60 * (i / steps) + 5 * rand(), completion_tokens_max: 64 + Math.floor(64 * rand()),
      completion_chars: 120 + 200 * rand(), truncated: 0.05 * rand(), zero_variance_groups: 0.25 * Math.floor(4 * rand()), reflection_words: rand(),
      reflective_correct: rand(), rollout_tokens_per_s: 600 + 200 * rand(), groups_trained: 1, loss: 0.1 * (rand() - 0.5), kl: 1e-3 * Math.sqrt(i) * rand(),
      entropy: 1 / Math.sqrt(i) + 0.01 * rand(), clip_fraction: 0.02 * rand(), grad_norm: 0.5 + rand(), lr: 1e-6, train_tokens_per_s: 900 + 100 * rand(),
      step_seconds: 1.2 + 0.3 * rand(),
    }));
  }
  writeFileSync(join(runDir, 'metrics.jsonl'), lines.join('\n') + '\n');
  const mb = statSync(join(runDir, 'metrics.jsonl')).size / 1e6;

  const serve = async (): Promise<{ url: string; child: ChildProcess }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--serve', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((ok, fail) => {
      let out = '';
      child.stdout!.on('data', (c) => {
        out += c;
        const m = /url (\S+)/.exec(out);
        if (m) ok(m[1]);
      });
      child.on('exit', (code) => fail(new Error(`dashboard server exited with ${code}`)));
    });
    return { url, child };
  };
  const stop = (child: ChildProcess) => new Promise<void>((ok) => {
    child.once('exit', () => ok());
    child.kill('SIGTERM');
  });

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const serverMs: number[] = [], pageMs: number[] = [], bytes: number[] = [];
  let charts = 0, points = 0;
  try {
    for (let t = 0; t < trials; t++) {
      // the server's first read alone
      let s = await serve();
      const t0 = performance.now();
      const body = await (await fetch(`${s.url}api/runs/big/metrics`)).text();
      serverMs.push(performance.now() - t0);
      bytes.push(Buffer.byteLength(body));
      const rows = (JSON.parse(body) as { rows: number }).rows;
      if (rows !== steps) throw new Error(`the server read ${rows} rows, expected ${steps}`);
      await stop(s.child);
      // the page on a fresh server: everything a user waits for
      s = await serve();
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const t1 = performance.now();
      await page.goto(`${s.url}?run=big`);
      await page.waitForFunction(`Number(document.querySelector('[data-testid="chart-reward"]')?.getAttribute('data-points')) > 0 && document.querySelectorAll('.chart canvas').length >= ${light ? 11 : 12}`, undefined, { timeout: 60_000, polling: 'raf' });
      pageMs.push(performance.now() - t1);
      charts = await page.locator('.chart canvas').count();
      points = Number(await page.getByTestId('chart-reward').getAttribute('data-points'));
      await page.close();
      await stop(s.child);
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const load = loadavg()[0];
  const server = median(serverMs), pageTotal = median(pageMs);
  console.log(`dashboard cold path: ${steps} steps, ${mb.toFixed(1)} MB metrics.jsonl (${light ? 16 : 24} fields a line), fresh server process each time, median of ${trials}`);
  console.log(`  server first read (GET metrics)      ${server.toFixed(0).padStart(6)} ms   (${serverMs.map((x) => x.toFixed(0)).join(', ')}); payload ${(median(bytes) / 1e3).toFixed(0)} kB`);
  console.log(`  page to ${charts} charts drawn (cold)     ${pageTotal.toFixed(0).padStart(6)} ms   (${pageMs.map((x) => x.toFixed(0)).join(', ')}); ${points} points per curve`);
  console.log(`  target (issue #11): ${TARGET_MS} ms → ${(pageTotal / TARGET_MS).toFixed(2)}× the target (${pageTotal <= TARGET_MS ? 'met' : 'NOT met'}); Node ${process.version}, ${cpus().length} cores, load average ${load.toFixed(1)} (server, browser and other jobs share them)`);
  if (json) console.log(JSON.stringify({ steps, light, file_mb: mb, server_first_read_ms: Math.round(server), page_cold_ms: Math.round(pageTotal), target_ms: TARGET_MS, ratio_to_target: pageTotal / TARGET_MS, payload_bytes: median(bytes), charts, points, load_average: load }));
}
