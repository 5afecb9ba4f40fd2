// The page's side of the dashboard API (src/server/dashboard.ts): run list, metrics
// columns kept live by the server-sent events stream, samples and aha queries.
// One EventSource per open run; new rows are appended in place and subscribers are
// told at most once per animation frame, so a fast run cannot flood the page.
// Not here: drawing (charts.tsx, experts.tsx, samples.tsx).

export interface RunInfo {
  name: string;
  hasMetrics: boolean;
  hasSamples: boolean;
  metricsBytes: number;
  samplesBytes: number;
  modified: number;
}

export interface Sample {
  index: number;
  step: number | null;
  prompt: string;
  completion: string;
  rewards: Record<string, number>;
  correct: boolean | null;
}

export interface SamplePage {
  total: number;
  matched: number;
  items: Sample[];
}

export interface Aha {
  word: string;
  firstStep: number | null;
  index: number;
  count: number;
}

interface MetricsResponse {
  rows: number;
  badLines: number;
  points: number;
  downsampled: boolean;
  offset: number;
  step: number[];
  time: number[];
  series: Record<string, (number | null)[]>;
  arrays: Record<string, { step: number[]; value: unknown[] }>;
}

/** How many points a chart is given at first; live rows are added on top, and past twice this the run is refetched. */
export const MAX_POINTS = 2000;

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      msg = ((await r.json()) as { error?: string }).error ?? msg;
    } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return (await r.json()) as T;
}

const runUrl = (run: string, what: string) => `api/runs/${encodeURIComponent(run)}/${what}`;

export const fetchRuns = () => getJson<{ runsDir: string; runs: RunInfo[] }>('api/runs');
export const fetchAha = (run: string) => getJson<{ aha: Aha[] }>(runUrl(run, 'aha'));
export function fetchSamples(run: string, q: { filter?: string; q?: string; prompt?: string; offset?: number; limit?: number; order?: 'asc' | 'desc' }): Promise<SamplePage> {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  return getJson<SamplePage>(`${runUrl(run, 'samples')}?${p}`);
}

/** A run's metrics, live: columns plus the rows streamed in since the first fetch. */
export class RunData {
  readonly name: string;
  step: number[] = [];
  time: number[] = [];
  series: Record<string, (number | null)[]> = {};
  arrays: Record<string, { step: number[]; value: unknown[] }> = {};
  rows = 0;
  /** Complete lines of metrics.jsonl that were not JSON (skipped by the server). */
  badLines = 0;
  downsampled = false;
  /** Samples seen by the stream (bumped as they arrive). */
  samplesSeen = 0;
  error: string | null = null;
  loaded = false;
  /** Changes on every update (for memo keys). */
  version = 0;
  private es: EventSource | null = null;
  private listeners = new Set<() => void>();
  private frame = 0;
  private closed = false;
  private fetched = 0;

  constructor(name: string) {
    this.name = name;
    void this.load();
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Tells the subscribers at the next animation frame, or at once (`now`: the first data, drawn without waiting a frame). */
  private notify(now = false): void {
    this.version++;
    if (now) {
      for (const f of this.listeners) f();
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      for (const f of this.listeners) f();
    });
  }

  private async load(): Promise<void> {
    this.es?.close();
    this.es = null;
    let m: MetricsResponse, samples: SamplePage & { offset: number };
    try {
      [m, samples] = await Promise.all([
        getJson<MetricsResponse>(`${runUrl(this.name, 'metrics')}?maxPoints=${MAX_POINTS}`),
        getJson<SamplePage & { offset: number }>(`${runUrl(this.name, 'samples')}?limit=1`),
      ]);
    } catch (e) {
      this.error = (e as Error).message;
      this.notify();
      if (!this.closed) setTimeout(() => void this.load(), 3000); // a run that does not exist yet
      return;
    }
    if (this.closed) return;
    this.error = null;
    this.step = m.step;
    this.time = m.time;
    this.series = m.series;
    this.arrays = m.arrays;
    this.rows = m.rows;
    this.badLines = m.badLines;
    this.downsampled = m.downsampled;
    this.fetched = m.step.length;
    this.samplesSeen = samples.total;
    this.loaded = true;
    this.notify(true);
    const es = new EventSource(`${runUrl(this.name, 'events')}?metrics=${m.offset}&samples=${samples.offset}&samplesCount=${samples.total}`);
    this.es = es;
    es.addEventListener('metrics', (ev) => {
      const d = JSON.parse((ev as MessageEvent).data) as { rows: Record<string, unknown>[]; reset: boolean };
      if (d.reset) return void this.load();
      this.append(d.rows);
      if (this.step.length > 2 * MAX_POINTS && this.step.length - this.fetched > MAX_POINTS) void this.load();
    });
    // a dropped stream (server restarted, run's dashboard closed): EventSource would reconnect from the
    // first offsets and repeat rows, so start over from a fresh fetch instead, every few seconds until it answers
    es.onerror = () => {
      es.close();
      if (this.es === es && !this.closed) setTimeout(() => void this.load(), 3000);
    };
    es.addEventListener('samples', (ev) => {
      const d = JSON.parse((ev as MessageEvent).data) as { items: Sample[]; reset: boolean };
      this.samplesSeen = d.reset ? d.items.length : this.samplesSeen + d.items.length;
      this.notify();
    });
  }

  private append(rows: Record<string, unknown>[]): void {
    for (const r of rows) {
      if (typeof r.step !== 'number') continue;
      const i = this.step.length;
      this.step.push(r.step);
      this.time.push(typeof r.time === 'number' ? r.time : NaN);
      this.rows++;
      for (const [k, v] of Object.entries(r)) {
        if (k === 'step' || k === 'time') continue;
        if (typeof v === 'number' && Number.isFinite(v)) {
          const col = (this.series[k] ??= new Array<number | null>(i).fill(null));
          col.push(v);
        } else if (Array.isArray(v)) {
          const a = (this.arrays[k] ??= { step: [], value: [] });
          a.step.push(r.step);
          a.value.push(v);
        }
      }
      for (const col of Object.values(this.series)) while (col.length < this.step.length) col.push(null);
    }
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.es?.close();
    if (this.frame) cancelAnimationFrame(this.frame);
    this.listeners.clear();
  }
}
