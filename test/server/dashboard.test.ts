// The dashboard server over real HTTP on a temporary runs folder: the runs list,
// downsampled metrics, paged samples, bad run names (404, nothing outside the
// folder read), the built page and its absence, and the server-sent events that
// tail metrics.jsonl and samples.jsonl: appended lines arrive, a line being
// written arrives only once its '\n' does, a rewritten file restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { startDashboard, WEB_DIST, type RunningDashboard } from '../../src/server/dashboard.ts';

const dir = mkdtempSync(join(tmpdir(), 'r1ts-dash-'));
const runs = join(dir, 'runs');
const web = join(dir, 'web');
mkdirSync(join(runs, 'r1'), { recursive: true });
mkdirSync(join(web, 'assets'), { recursive: true });
writeFileSync(join(web, 'index.html'), '<!doctype html><title>r1ts</title>');
writeFileSync(join(web, 'assets', 'app.js'), 'console.log(1)');
writeFileSync(join(dir, 'secret.txt'), 'secret');
writeFileSync(join(dir, 'runs', 'secret-file'), 'secret');
const metrics = join(runs, 'r1', 'metrics.jsonl');
const samples = join(runs, 'r1', 'samples.jsonl');
writeFileSync(metrics, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ step: i + 1, time: 1e9 + i, reward: Math.sin(i / 50) + (i === 1234 ? 10 : 0) })).join('\n') + '\n');
writeFileSync(samples, Array.from({ length: 120 }, (_, i) => JSON.stringify({ step: i, prompt: `p${i % 7}`, completion: `r${i}</think> <answer>${i}</answer>`, rewards: { total: i % 2 }, correct: i % 2 === 1 })).join('\n') + '\n');

const servers: RunningDashboard[] = [];
test.after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const getJson = async (url: string): Promise<any> => (await fetch(url)).json();
const start = async (webDir = web) => {
  const s = await startDashboard({ runsDir: runs, port: 0, webDir, pollMs: 5000, maxPoints: 400 });
  servers.push(s);
  return s;
};

/** A raw GET (no URL normalisation, so '..' reaches the server as sent). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** An SSE client: collects `{event, data}` and lets a test wait for a predicate. */
async function sse(url: string) {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: { event: string; data: any }[] = [];
  let buf = '';
  const waiters: (() => void)[] = [];
  (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, k);
          buf = buf.slice(k + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
          waiters.splice(0).forEach((w) => w());
        }
      }
    } catch { /* aborted */ }
  })();
  const until = async (pred: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(events).slice(0, 400)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  return { events, until, close: () => ac.abort() };
}

test('runs list, downsampled metrics and paged samples', async () => {
  const s = await start();
  const list = await getJson(`${s.url}api/runs`);
  assert.deepEqual(list.runs.map((r: { name: string }) => r.name), ['r1']);
  const m = await getJson(`${s.url}api/runs/r1/metrics`);
  assert.equal(m.rows, 3000);
  assert.equal(m.downsampled, true);
  assert.ok(m.points <= 400 && m.step.length === m.points);
  assert.equal(Math.max(...m.series.reward), Math.sin(1234 / 50) + 10); // the spike survives
  const full = await getJson(`${s.url}api/runs/r1/metrics?maxPoints=5000`);
  assert.equal(full.points, 3000);
  appendFileSync(metrics, JSON.stringify({ step: 3000.5, time: 1e9 + 3000, reward: 0 }) + '\n'); // the cached answer is not reused once the file grew
  assert.equal((await getJson(`${s.url}api/runs/r1/metrics?maxPoints=5000`)).points, 3001);
  assert.equal((await fetch(`${s.url}api/runs/r1/metrics?maxPoints=1`)).status, 400);
  const page = await getJson(`${s.url}api/runs/r1/samples?filter=incorrect&limit=10&offset=5`);
  assert.deepEqual([page.total, page.matched, page.items.length], [120, 60, 10]);
  assert.ok(page.items.every((x: { correct: boolean }) => x.correct === false));
  assert.equal(page.items[0].index, 108); // newest first: incorrect are the even ones, 118, 116, ... the 6th is 108
  const byPrompt = await getJson(`${s.url}api/runs/r1/samples?prompt=p3&order=asc&limit=1000`);
  assert.deepEqual(byPrompt.items.map((x: { step: number }) => x.step).slice(0, 3), [3, 10, 17]);
  const bad = await fetch(`${s.url}api/runs/r1/samples?filter=maybe`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /expected all, correct or incorrect/);
});

test('bad run names get 404 and never reach outside the runs folder', async () => {
  const s = await start();
  for (const path of ['/api/runs/../metrics', '/api/runs/..%2Fsecret.txt/metrics', '/api/runs/%2e%2e/samples', '/api/runs/nope/metrics',
    '/api/runs/secret-file/metrics', '/api/runs/r1%2F..%2F..%2Fsecret.txt/samples', '/api/runs/%E0%A4%A/metrics']) {
    const r = await rawGet(s.url, path);
    assert.ok(r.status === 404, `${path}: ${r.status} ${r.body}`);
    assert.doesNotMatch(r.body, /secret"/);
  }
  for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2F..%2Fsecret.txt', '/assets/missing.js']) {
    const r = await rawGet(s.url, path);
    assert.notEqual(r.body, 'secret', path);
    assert.ok(r.status === 404 || r.body.includes('<title>r1ts</title>'), `${path}: ${r.status}`);
  }
});

test('the built page is served; without it / says how to build it', async () => {
  const s = await start();
  const page = await fetch(s.url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>r1ts<\/title>/);
  assert.equal(await (await fetch(`${s.url}assets/app.js`)).text(), 'console.log(1)');
  assert.match(await (await fetch(`${s.url}some/route`)).text(), /<title>r1ts/);
  const bare = await start(join(dir, 'no-web'));
  const r = await fetch(bare.url);
  assert.equal(r.status, 503);
  assert.match(await r.text(), /npm run build:web/);
});

test('events: appended lines arrive, a torn line only once complete, a rewrite restarts', async () => {
  const s = await start();
  const m0 = await getJson(`${s.url}api/runs/r1/metrics`);
  const p0 = await getJson(`${s.url}api/runs/r1/samples?limit=1`);
  const ev = await sse(`${s.url}api/runs/r1/events?metrics=${m0.offset}&samples=${p0.offset}&samplesCount=${p0.total}`);
  try {
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ev.events.length, 0, 'nothing new yet');
    appendFileSync(metrics, JSON.stringify({ step: 3001, time: 2e9, reward: 0.5 }) + '\n');
    await ev.until(() => ev.events.some((e) => e.event === 'metrics'), 'the appended metrics line');
    const first = ev.events.find((e) => e.event === 'metrics')!.data;
    assert.deepEqual(first.rows, [{ step: 3001, time: 2e9, reward: 0.5 }]);
    // a line written in two pieces: nothing is sent for the first piece
    appendFileSync(metrics, '{"step":3002,"time":2e9,"rew');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ev.events.filter((e) => e.event === 'metrics').length, 1, 'the torn line was not sent');
    appendFileSync(metrics, 'ard":0.75}\n');
    await ev.until(() => ev.events.filter((e) => e.event === 'metrics').length === 2, 'the completed line');
    assert.deepEqual(ev.events.filter((e) => e.event === 'metrics')[1].data.rows, [{ step: 3002, time: 2e9, reward: 0.75 }]);
    appendFileSync(samples, JSON.stringify({ step: 999, prompt: 'new', completion: 'c', rewards: { total: 1 }, correct: true }) + '\n');
    await ev.until(() => ev.events.some((e) => e.event === 'samples'), 'the appended sample');
    const smp = ev.events.find((e) => e.event === 'samples')!.data;
    assert.equal(smp.items.length, 1);
    assert.equal(smp.items[0].index, 120);
    assert.equal(smp.items[0].prompt, 'new');
    // a resumed run rewrites metrics.jsonl shorter: the stream says reset and sends it all
    writeFileSync(metrics, JSON.stringify({ step: 1, time: 1, reward: 0 }) + '\n');
    await ev.until(() => ev.events.some((e) => e.event === 'metrics' && e.data.reset), 'the reset');
    assert.deepEqual(ev.events.find((e) => e.data.reset)!.data.rows, [{ step: 1, time: 1, reward: 0 }]);
    // rewritten atomically and longer (RunLog.truncateAfter then appends): a reset too, not a garbled tail
    const resets = () => ev.events.filter((e) => e.event === 'metrics' && e.data.reset).length;
    writeFileSync(metrics + '.tmp', [1, 2, 3].map((i) => JSON.stringify({ step: i, time: i, reward: -i })).join('\n') + '\n');
    renameSync(metrics + '.tmp', metrics);
    await ev.until(() => resets() === 2, 'the reset of the replaced file');
    assert.deepEqual(ev.events.filter((e) => e.data.reset)[1].data.rows.map((r: { step: number }) => r.step), [1, 2, 3]);
    assert.equal(s.streams, 1);
  } finally {
    ev.close();
  }
  const deadline = Date.now() + 3000;
  while (s.streams > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.streams, 0, 'a closed client releases its watcher');
});

test('events fall back to polling when no watch event comes', async () => {
  const s = await startDashboard({ runsDir: runs, port: 0, webDir: web, pollMs: 50, watch: false });
  servers.push(s);
  mkdirSync(join(runs, 'r2'));
  const p = join(runs, 'r2', 'metrics.jsonl');
  writeFileSync(p, '');
  const ev = await sse(`${s.url}api/runs/r2/events`);
  try {
    appendFileSync(p, '{"step":1,"time":1,"loss":3}\n');
    await ev.until(() => ev.events.some((e) => e.event === 'metrics'), 'the polled line');
  } finally {
    ev.close();
  }
});

test('prewarm reads the newest runs in the background after start', async () => {
  const s = await startDashboard({ runsDir: runs, port: 0, webDir: web, prewarm: 1 });
  servers.push(s);
  const cold = await start();
  const deadline = Date.now() + 3000;
  while (s.cached < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(s.cached, 1);
  assert.equal(cold.cached, 0);
});

test('the page\'s ?run= starts reading those runs while the page loads; concurrent metrics requests share one read', async () => {
  mkdirSync(join(runs, 'big'));
  writeFileSync(join(runs, 'big', 'metrics.jsonl'), Array.from({ length: 5000 }, (_, i) => JSON.stringify({ step: i + 1, loss: 1 / (i + 1) })).join('\n') + '\n');
  const s = await start();
  assert.equal((await fetch(`${s.url}?run=nope,..,big`)).status, 200);
  assert.equal(s.cached, 1, 'only the real run is read');
  const [a, b] = await Promise.all([0, 1].map(async () => (await fetch(`${s.url}api/runs/big/metrics?maxPoints=20000`)).json() as Promise<{ rows: number; step: number[] }>));
  assert.deepEqual([a.rows, b.rows, a.step.length], [5000, 5000, 5000]);
  assert.deepEqual(a, b);
});

test('the page is built (npm install does it): index.html, its assets, offline, a few hundred KB at most', () => {
  const index = join(WEB_DIST, 'index.html');
  assert.ok(existsSync(index), `${index} is missing: npm install builds it (prepare), or npm run build:web`);
  const html = readFileSync(index, 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((r) => !r.startsWith('data:'));
  assert.ok(refs.some((r) => r.endsWith('.js')), `index.html loads a script: ${refs.join(', ')}`);
  let bytes = html.length;
  for (const r of refs) {
    assert.doesNotMatch(r, /^(https?:)?\/\//, `${r}: the page must not load anything from the network`);
    const f = join(WEB_DIST, r);
    assert.ok(existsSync(f), `${r} is referenced by index.html but missing`);
    bytes += statSync(f).size;
    assert.doesNotMatch(readFileSync(f, 'utf8'), /<script[^>]+src="https?:|@import url\(["']?https?:/, `${r} loads from the network`);
  }
  assert.ok(bytes < 400_000, `the page is ${bytes} bytes`);
});
