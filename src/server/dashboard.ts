// The dashboard's HTTP server (node:http, no framework) over a runs folder:
//   GET /api/runs                          run directories (metrics.jsonl and/or samples.jsonl)
//   GET /api/runs/NAME/metrics?maxPoints=N the metrics as columns, min/max-downsampled to ≤ N rows
//   GET /api/runs/NAME/samples?filter=all|correct|incorrect&q=TEXT&prompt=EXACT&offset=&limit=&order=desc|asc
//   GET /api/runs/NAME/aha                 first steps where reflection words appear in correct answers
//   GET /api/runs/NAME/events?metrics=BYTE&samples=BYTE&samplesCount=N
//                                          server-sent events tailing both files from those offsets:
//                                          `metrics` {rows, offset, reset}, `samples` {items, offset, reset}
//   GET /api/zero-base/FILE                the shipped R1-Zero base (assets/zero-base), read-only, for the
//                                          page's "train in this tab" mode: config.json, model.safetensors,
//                                          tokenizer.json, tokenizer_config.json, generation_config.json
//   GET /…                                 the built page (web/dist)
// Files are tailed with fs.watch on the run folder plus a slow poll as a fallback (network and
// some container filesystems drop inotify events); only complete lines are sent, so a line being
// written (or torn by a crash) goes out once its '\n' is there. Run names are single folder
// names checked against the listing, so no request reaches outside the runs folder.
// A run's metrics are read asynchronously, chunk by chunk (one read in flight per run, shared by
// every request for it); the page's own URL (?run=a,b) starts the read of those runs while the
// page loads, so the first /metrics finds it under way.
// Not here: parsing and downsampling (run-data.ts), the page (web/), the command (src/cli/dashboard.ts).

import { existsSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { readJsonlFrom } from '../core/jsonl.ts';
import { ahaMoments, downsample, inode, listRuns, MetricsColumns, querySamples, runInfo, SampleStore, toSample } from './run-data.ts';

/** Where `npm install` builds the page (web/dist). */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));
/** The shipped R1-Zero base, served to the page's in-tab training (the same files `r1ts zero` reads). */
export const ZERO_BASE_DIR = fileURLToPath(new URL('../../assets/zero-base', import.meta.url));
/** The files of ZERO_BASE_DIR the page may fetch (no other name reaches the disk). */
export const ZERO_BASE_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'] as const;

export const DashboardOptionsSchema = z.object({
  runsDir: z.string().min(1),
  /** 0 picks a free port. */
  port: z.number().int().min(0).max(65535).default(7788),
  host: z.string().default('127.0.0.1'),
  /** The built page; missing → the API still works and `/` says how to build it. */
  webDir: z.string().default(WEB_DIST),
  /** The model directory served under /api/zero-base/ (the page's in-tab training). */
  zeroBaseDir: z.string().default(ZERO_BASE_DIR),
  /** Fallback poll of the tailed files, ms (fs.watch is the fast path). */
  pollMs: z.number().int().min(10).default(1000),
  /** fs.watch the run folders (false: the poll alone, as where inotify does not reach). */
  watch: z.boolean().default(true),
  /** Default and largest point count of /metrics. */
  maxPoints: z.number().int().min(2).default(2000),
  maxPointsLimit: z.number().int().min(2).default(20000),
  /** SSE keep-alive comment interval, ms. */
  heartbeatMs: z.number().int().min(100).default(15000),
  /**
   * Read the newest runs' files in the background after start, so the first view of a large
   * run finds them parsed (r1ts dashboard does; the --dashboard of a training run does not,
   * to leave the CPU to training).
   */
  prewarm: z.number().int().min(0).default(0),
  /** With the port in use, take a free one instead of failing. */
  fallbackPort: z.boolean().default(false),
});
export type DashboardOptions = z.input<typeof DashboardOptionsSchema>;

export interface RunningDashboard {
  url: string;
  port: number;
  /** Open event streams (for tests). */
  readonly streams: number;
  /** Runs whose files have been read into the cache (for tests). */
  readonly cached: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.map': 'application/json',
};

const intParam = (u: URL, name: string, dflt: number, min: number, max: number): number => {
  const raw = u.searchParams.get(name);
  if (raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name}=${raw}: expected an integer in [${min}, ${max}]`);
  return n;
};

export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const o = DashboardOptionsSchema.parse(options);
  const runsDir = resolve(o.runsDir);
  const webDir = resolve(o.webDir);
  type Run = { dir: string; metrics: MetricsColumns; samples: SampleStore; last?: { key: string; body: string }; reading?: Promise<void> | null };
  const cache = new Map<string, Omit<Run, 'dir'>>();
  const closers = new Set<() => void>();

  function run(name: string): Run {
    if (!runInfo(runsDir, name)) throw new HttpError(404, `no run '${name}' in ${runsDir} (expected a folder there holding metrics.jsonl or samples.jsonl)`);
    const dir = join(runsDir, name);
    let c = cache.get(name);
    if (!c) cache.set(name, (c = { metrics: new MetricsColumns(join(dir, 'metrics.jsonl')), samples: new SampleStore(join(dir, 'samples.jsonl')) }));
    return Object.assign(c, { dir });
  }

  /** Brings the run's metrics up to date: one asynchronous read in flight per run, shared by whoever asks. */
  function readMetrics(r: Run): Promise<void> {
    return (r.reading ??= r.metrics.updateAsync().then(() => {}).finally(() => (r.reading = null)));
  }

  function json(res: ServerResponse, status: number, body: unknown): void {
    sendBody(res, status, JSON.stringify(body));
  }

  function sendBody(res: ServerResponse, status: number, s: string): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(s), 'Cache-Control': 'no-store' });
    res.end(s);
  }

  function events(req: IncomingMessage, res: ServerResponse, dir: string, u: URL): void {
    const files = {
      metrics: { path: join(dir, 'metrics.jsonl'), offset: intParam(u, 'metrics', 0, 0, Number.MAX_SAFE_INTEGER), ino: inode(join(dir, 'metrics.jsonl')) },
      samples: { path: join(dir, 'samples.jsonl'), offset: intParam(u, 'samples', 0, 0, Number.MAX_SAFE_INTEGER), ino: inode(join(dir, 'samples.jsonl')) },
    };
    let samplesCount = intParam(u, 'samplesCount', 0, 0, Number.MAX_SAFE_INTEGER);
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    const send = (event: string, data: unknown) => {
      if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const pump = () => {
      for (const [kind, f] of Object.entries(files)) {
        let r;
        try {
          const ino = inode(f.path);
          const replaced = ino !== f.ino && f.offset > 0; // rewritten atomically (a resumed run): start over
          f.ino = ino;
          r = readJsonlFrom<Record<string, unknown>>(f.path, replaced ? 0 : f.offset);
          if (replaced) r.reset = true;
        } catch (e) {
          send('error', { message: `${f.path}: ${(e as Error).message}` });
          continue;
        }
        if (r.next === f.offset && !r.reset) continue;
        f.offset = r.next;
        if (kind === 'metrics') send('metrics', { rows: r.records, offset: r.next, reset: r.reset });
        else {
          if (r.reset) samplesCount = 0;
          const items = r.records.map((rec, i) => toSample(rec, samplesCount + i));
          samplesCount += items.length;
          send('samples', { items, offset: r.next, reset: r.reset });
        }
      }
    };
    // fs.watch fires several times per append; coalesce into one read per tick
    let pending: NodeJS.Timeout | null = null;
    const schedule = () => {
      if (!pending) pending = setTimeout(() => ((pending = null), pump()), 20);
    };
    let watcher: FSWatcher | null = null;
    if (o.watch) {
      try {
        watcher = watch(dir, { persistent: false }, schedule);
        watcher.on('error', () => {});
      } catch {
        watcher = null; // the poll below still tails
      }
    }
    const poll = setInterval(pump, o.pollMs);
    const beat = setInterval(() => !res.destroyed && res.write(': keep-alive\n\n'), o.heartbeatMs);
    const stop = () => {
      clearInterval(poll);
      clearInterval(beat);
      if (pending) clearTimeout(pending);
      watcher?.close();
      closers.delete(stop);
      if (!res.writableEnded) res.end();
    };
    closers.add(stop);
    req.on('close', stop);
    pump();
  }

  function serveStatic(res: ServerResponse, pathname: string, query: URLSearchParams): void {
    const index = join(webDir, 'index.html');
    if (!existsSync(index)) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`The dashboard page is not built (${index} is missing). Build it with \`npm run build:web\`; the API under /api/ works without it.\n`);
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      throw new HttpError(400, `bad path ${pathname}`);
    }
    let file = resolve(webDir, '.' + (rel === '/' ? '/index.html' : rel));
    if (file !== webDir && !file.startsWith(webDir + sep)) throw new HttpError(404, `no such file ${pathname}`);
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (rel.startsWith('/assets/')) throw new HttpError(404, `no such file ${pathname}`);
      file = index; // the page's own routes
    }
    if (file === index) {
      // the page will ask for these runs' metrics: start reading them now, while it loads
      for (const name of (query.get('run') ?? '').split(',')) {
        if (!runInfo(runsDir, name)) continue;
        readMetrics(run(name)).catch(() => { /* its own request will say what went wrong */ });
      }
    }
    const body = readFileSync(file);
    const immutable = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length, 'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' });
    res.end(body);
  }

  function serveZeroBase(res: ServerResponse, name: string): void {
    if (!(ZERO_BASE_FILES as readonly string[]).includes(name)) throw new HttpError(404, `no file ${name} in the zero base (expected one of ${ZERO_BASE_FILES.join(', ')})`);
    const file = join(o.zeroBaseDir, name);
    if (!existsSync(file)) throw new HttpError(404, `${file} is missing (the shipped base is assets/zero-base; \`r1ts zero --from-scratch --save-base assets/zero-base\` rebuilds it)`);
    const body = readFileSync(file);
    res.writeHead(200, { 'Content-Type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
    res.end(body);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method}: only GET is served`);
    const parts = u.pathname.split('/').filter((p) => p !== '');
    if (parts[0] !== 'api') return serveStatic(res, u.pathname, u.searchParams);
    if (parts.length === 2 && parts[1] === 'runs') return json(res, 200, { runsDir, runs: listRuns(runsDir) });
    if (parts.length === 3 && parts[1] === 'zero-base') return serveZeroBase(res, parts[2]);
    if (parts.length !== 4 || parts[1] !== 'runs') throw new HttpError(404, `no endpoint ${u.pathname}`);
    let name: string;
    try {
      name = decodeURIComponent(parts[2]);
    } catch {
      throw new HttpError(404, `bad run name ${parts[2]}`);
    }
    const r = run(name);
    switch (parts[3]) {
      case 'metrics': {
        const maxPoints = intParam(u, 'maxPoints', o.maxPoints, 2, o.maxPointsLimit);
        return readMetrics(r).then(() => {
          const key = `${maxPoints}@${r.metrics.offset}`; // the last answer, while the file has not grown
          if (r.last?.key !== key) r.last = { key, body: JSON.stringify({ run: name, ...downsample(r.metrics, maxPoints) }) };
          sendBody(res, 200, r.last.body);
        });
      }
      case 'samples': {
        r.samples.update();
        const filter = u.searchParams.get('filter') ?? 'all';
        if (filter !== 'all' && filter !== 'correct' && filter !== 'incorrect') throw new HttpError(400, `filter=${filter}: expected all, correct or incorrect`);
        const order = u.searchParams.get('order') ?? 'desc';
        if (order !== 'desc' && order !== 'asc') throw new HttpError(400, `order=${order}: expected desc or asc`);
        const prompt = u.searchParams.get('prompt');
        const page = querySamples(r.samples.items, {
          filter, order, q: u.searchParams.get('q') ?? '', prompt: prompt ?? undefined,
          offset: intParam(u, 'offset', 0, 0, Number.MAX_SAFE_INTEGER), limit: intParam(u, 'limit', 50, 1, 1000),
        });
        return json(res, 200, { run: name, offset: r.samples.offset, ...page });
      }
      case 'aha':
        r.samples.update();
        return json(res, 200, { run: name, aha: ahaMoments(r.samples.items) });
      case 'events':
        return events(req, res, r.dir, u);
      default:
        throw new HttpError(404, `no endpoint ${u.pathname}`);
    }
  }

  const server = createServer((req, res) => {
    const fail = (e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (!res.headersSent) json(res, status, { error: (e as Error).message });
      else res.end();
    };
    try {
      handle(req, res)?.catch(fail);
    } catch (e) {
      fail(e);
    }
  });

  const listen = (port: number) => new Promise<void>((ok, fail) => {
    const onError = (e: Error) => fail(e);
    server.once('error', onError);
    server.listen(port, o.host, () => {
      server.off('error', onError);
      ok();
    });
  });
  try {
    await listen(o.port);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !o.fallbackPort) throw e;
    await listen(0);
  }
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  if (o.prewarm > 0) {
    // one run at a time, read asynchronously, so requests are served meanwhile
    const queue = listRuns(runsDir).slice(0, o.prewarm).map((r) => r.name);
    const next = async (): Promise<void> => {
      for (let name = queue.shift(); !closed && name !== undefined; name = queue.shift()) {
        try {
          const r = run(name);
          await readMetrics(r);
          r.samples.update();
        } catch { /* gone or unreadable: the request for it will say so */ }
        await new Promise((ok) => setImmediate(ok));
      }
    };
    setImmediate(() => void next());
  }
  const host = o.host === '0.0.0.0' || o.host === '::' ? 'localhost' : o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}/`,
    port,
    get streams() {
      return closers.size;
    },
    get cached() {
      return cache.size;
    },
    close: () => new Promise<void>((ok) => {
      closed = true;
      for (const c of [...closers]) c();
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}
