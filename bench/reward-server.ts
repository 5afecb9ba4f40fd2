// Load test of `r1ts reward-server` on loopback: C concurrent clients (default
// 64) post batches of B items (default 16; add and math graders) for S seconds
// (default 30) to a server in its own process (--workers N: the cluster mode).
// Reports errors, latency p50/p90/p99/max, requests and items per second, and
// the server's RSS at the start, middle and end (flat = no leak), beside the
// anchor: the same items graded in one process without HTTP (items/s), as a ratio.
// Usage: npx tsx bench/reward-server.ts [--seconds S] [--clients C] [--batch B] [--workers N] [--json]
// Not here: correctness (test/recipe/reward-server.test.ts).

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { gradeRewardItem, type RewardItem } from '../src/recipe/reward-server.ts';
import type { Task } from '../src/tasks/task.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const json = args.includes('--json');
const seconds = flag('seconds', 30), clients = flag('clients', 64), batch = flag('batch', 16), workers = flag('workers', 1);
const root = resolve(import.meta.dirname, '..');

function items(seed: number): RewardItem[] {
  return Array.from({ length: batch }, (_, j) => {
    const a = 100 + ((seed * 37 + j * 11) % 900), b = 100 + ((seed * 13 + j * 7) % 900);
    return j % 4 === 3
      ? { task: 'math', completion: `so the value is \\frac{${a}}{${b}}, i.e. \\boxed{\\frac{${2 * a}}{${2 * b}}}`, gold: `${a}/${b}` }
      : { task: 'add', completion: `<think> ones, tens, hundreds </think> <answer>${a + b + (j % 2)}</answer>`, gold: String(a + b) };
  });
}

// the anchor: grading in-process, no HTTP
const cache = new Map<string, Task>();
let graded = 0;
const a0 = performance.now();
while (performance.now() - a0 < 2000) for (const it of items(graded)) gradeRewardItem(it, cache), graded++;
const directPerSecond = graded / ((performance.now() - a0) / 1000);

const port = workers > 1 ? 18000 + Math.floor(Math.random() * 1000) : 0;
const server = spawn(process.execPath, [join(root, 'bin/r1ts.mjs'), 'reward-server', '--port', String(port), ...(workers > 1 ? ['--workers', String(workers)] : [])], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
const url = workers > 1
  ? await (async () => {
    const u = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 120; i++) {
      try {
        if ((await fetch(`${u}/health`)).ok) return u;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error('the reward-server workers did not come up in 60 s');
  })()
  : await new Promise<string>((ok, fail) => {
    let out = '';
    server.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) ok(m[1]);
    });
    server.on('exit', (code) => fail(new Error(`reward-server exited with ${code}`)));
  });
const rss = async () => ((await (await fetch(`${url}/health`)).json()) as { rss: number }).rss;

const latencies: number[] = [];
let errors = 0, requests = 0;
const rssStart = await rss();
let rssMid = 0;
const t0 = performance.now();
const deadline = t0 + seconds * 1000;
setTimeout(async () => (rssMid = await rss()), (seconds * 1000) / 2);
await Promise.all(Array.from({ length: clients }, async (_, c) => {
  for (let i = 0; performance.now() < deadline; i++) {
    const body = JSON.stringify({ items: items(c * 100_003 + i) });
    const s = performance.now();
    try {
      const r = await fetch(`${url}/v1/rewards`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await r.arrayBuffer();
      if (r.status !== 200) errors++;
    } catch {
      errors++;
    }
    latencies.push(performance.now() - s);
    requests++;
  }
}));
const elapsed = (performance.now() - t0) / 1000;
const rssEnd = await rss();
server.kill('SIGTERM');

latencies.sort((x, y) => x - y);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
const itemsPerSecond = (requests * batch) / elapsed;
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
console.log(`reward-server: ${clients} clients × batches of ${batch} for ${elapsed.toFixed(1)} s, ${workers} worker(s)`);
console.log(`  requests ${requests} (${(requests / elapsed).toFixed(0)}/s), items ${(itemsPerSecond).toFixed(0)}/s, errors ${errors}`);
console.log(`  latency ms: p50 ${q(0.5).toFixed(1)}  p90 ${q(0.9).toFixed(1)}  p99 ${q(0.99).toFixed(1)}  max ${latencies.at(-1)!.toFixed(1)}`);
console.log(`  server rss MiB: start ${mb(rssStart)}, middle ${mb(rssMid)}, end ${mb(rssEnd)}`);
console.log(`  anchor: in-process grading ${directPerSecond.toFixed(0)} items/s (one thread, no HTTP); over HTTP ${(itemsPerSecond / directPerSecond).toFixed(2)}×`);
if (json) console.log(JSON.stringify({ clients, batch, workers, seconds: elapsed, requests, errors, items_per_s: itemsPerSecond, p50_ms: q(0.5), p90_ms: q(0.9), p99_ms: q(0.99), max_ms: latencies.at(-1), rss_start: rssStart, rss_mid: rssMid, rss_end: rssEnd, direct_items_per_s: directPerSecond, ratio: itemsPerSecond / directPerSecond }));
process.exit(errors ? 1 : 0);
