// What the dashboard reads from a runs folder: the run directories in it, a
// run's metrics as columns (cached and extended incrementally as the file
// grows), min/max-preserving downsampling of those columns, and the sample
// browser's queries (paging, correct/incorrect, search, one prompt across
// steps, the first steps where reflection words appear in correct answers).
// Not here: HTTP (dashboard.ts), writing the files (src/train/run-log.ts).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonlFrom } from '../core/jsonl.ts';

/** Run names are one folder name: letters, digits, '.', '_', '-' (no '..', no separators). */
export const RUN_NAME_RE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,200}$/;

export interface RunInfo {
  name: string;
  hasMetrics: boolean;
  hasSamples: boolean;
  metricsBytes: number;
  samplesBytes: number;
  /** Unix ms of the newest of the two files. */
  modified: number;
}

/** The run directories of `runsDir`: its subfolders holding metrics.jsonl or samples.jsonl, newest first. */
export function listRuns(runsDir: string): RunInfo[] {
  if (!existsSync(runsDir)) return [];
  const out: RunInfo[] = [];
  for (const name of readdirSync(runsDir)) {
    if (!RUN_NAME_RE.test(name)) continue;
    const info = runInfo(runsDir, name);
    if (info) out.push(info);
  }
  return out.sort((a, b) => b.modified - a.modified || a.name.localeCompare(b.name));
}

/** One run's files, or null when `name` is not a run directory of `runsDir` (bad names included). */
export function runInfo(runsDir: string, name: string): RunInfo | null {
  if (!RUN_NAME_RE.test(name)) return null;
  const dir = join(runsDir, name);
  let st;
  try {
    st = statSync(dir);
  } catch {
    return null;
  }
  if (!st.isDirectory()) return null;
  const m = fileStat(join(dir, 'metrics.jsonl')), s = fileStat(join(dir, 'samples.jsonl'));
  if (!m && !s) return null;
  return { name, hasMetrics: !!m, hasSamples: !!s, metricsBytes: m?.size ?? 0, samplesBytes: s?.size ?? 0, modified: Math.max(m?.mtimeMs ?? 0, s?.mtimeMs ?? 0) };
}

function fileStat(p: string): { size: number; mtimeMs: number } | null {
  try {
    const st = statSync(p);
    return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : null;
  } catch {
    return null;
  }
}

/**
 * The file's inode, or null when it is missing: a resumed run rewrites metrics.jsonl atomically
 * (a new file renamed over the old), which can leave it as long as before; a new inode says so.
 */
export function inode(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/**
 * A metrics file as columns: `step`, `time` and every numeric figure (null where a row lacks it),
 * plus numeric-array figures (e.g. expert load) kept per row where present. Extended by `update()`
 * from the byte offset it has read to, so a growing file is parsed once.
 */
export class MetricsColumns {
  readonly path: string;
  offset = 0;
  /** Complete lines that were not JSON (skipped). */
  badLines = 0;
  private ino: number | null = null;
  rows = 0;
  step: number[] = [];
  time: number[] = [];
  series = new Map<string, (number | null)[]>();
  /** Array figures: name → rows (row index, value). */
  arrays = new Map<string, { row: number[]; value: unknown[] }>();
  constructor(path: string) {
    this.path = path;
  }

  /** Reads what was appended since the last call; returns the new records (a rewritten file starts over). */
  update(): Record<string, unknown>[] {
    const ino = inode(this.path);
    if (ino !== this.ino) {
      this.clear();
      this.ino = ino;
    }
    const r = readJsonlFrom<Record<string, unknown>>(this.path, this.offset);
    if (r.reset) this.clear();
    this.badLines += r.bad.length;
    this.offset = r.next;
    for (const rec of r.records) this.push(rec);
    return r.records;
  }

  private clear(): void {
    this.offset = 0;
    this.badLines = 0;
    this.rows = 0;
    this.step = [];
    this.time = [];
    this.series.clear();
    this.arrays.clear();
  }

  private push(rec: Record<string, unknown>): void {
    if (typeof rec.step !== 'number') return;
    const i = this.rows++;
    this.step.push(rec.step);
    this.time.push(typeof rec.time === 'number' ? rec.time : NaN);
    for (const [k, v] of Object.entries(rec)) {
      if (k === 'step' || k === 'time') continue;
      if (typeof v === 'number' && Number.isFinite(v)) {
        let col = this.series.get(k);
        if (!col) this.series.set(k, (col = new Array<number | null>(i).fill(null)));
        while (col.length < i) col.push(null);
        col.push(v);
      } else if (Array.isArray(v) && v.length > 0) {
        let a = this.arrays.get(k);
        if (!a) this.arrays.set(k, (a = { row: [], value: [] }));
        a.row.push(i);
        a.value.push(v);
      }
    }
    for (const col of this.series.values()) while (col.length < this.rows) col.push(null);
  }
}

export interface DownsampledMetrics {
  /** Rows in the file. */
  rows: number;
  /** Complete lines that were not JSON (skipped). */
  badLines: number;
  /** Rows returned (≤ 2 × buckets when downsampled). */
  points: number;
  downsampled: boolean;
  /** Byte offset read to: pass it to the events stream to continue from there. */
  offset: number;
  step: number[];
  time: number[];
  series: Record<string, (number | null)[]>;
  /** Array figures (expert load ...): steps and values, at most `maxPoints` rows (bucket means). */
  arrays: Record<string, { step: number[]; value: unknown[] }>;
}

/**
 * The columns cut to at most `maxPoints` rows: with more rows than that, the rows are split into
 * maxPoints/2 buckets of consecutive rows and each bucket becomes two points (at its first and
 * last step) that carry, per series, the bucket's minimum and maximum in the order they occur,
 * so every peak and trough of every curve survives. Fewer rows come back as they are.
 */
export function downsample(c: MetricsColumns, maxPoints: number): DownsampledMetrics {
  const n = c.rows;
  const base = { rows: n, badLines: c.badLines, offset: c.offset, arrays: downsampleArrays(c, maxPoints) };
  if (n <= maxPoints || maxPoints < 2) {
    return { ...base, points: n, downsampled: false, step: c.step.slice(), time: c.time.slice(), series: Object.fromEntries([...c.series].map(([k, v]) => [k, v.slice()])) };
  }
  const buckets = Math.floor(maxPoints / 2);
  const step: number[] = [], time: number[] = [];
  const series: Record<string, (number | null)[]> = {};
  const cols = [...c.series];
  for (const [k] of cols) series[k] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * n) / buckets), hi = Math.floor(((b + 1) * n) / buckets); // rows [lo, hi)
    if (hi <= lo) continue;
    step.push(c.step[lo], c.step[hi - 1]);
    time.push(c.time[lo], c.time[hi - 1]);
    for (const [k, col] of cols) {
      let iMin = -1, iMax = -1;
      for (let i = lo; i < hi; i++) {
        const v = col[i];
        if (v === null) continue;
        if (iMin < 0 || v < col[iMin]!) iMin = i;
        if (iMax < 0 || v > col[iMax]!) iMax = i;
      }
      const out = series[k];
      if (iMin < 0) out.push(null, null);
      else if (iMin <= iMax) out.push(col[iMin], col[iMax]);
      else out.push(col[iMax], col[iMin]);
    }
  }
  return { ...base, points: step.length, downsampled: true, step, time, series };
}

function downsampleArrays(c: MetricsColumns, maxPoints: number): DownsampledMetrics['arrays'] {
  const out: DownsampledMetrics['arrays'] = {};
  for (const [k, a] of c.arrays) {
    const n = a.row.length;
    if (n <= maxPoints) {
      out[k] = { step: a.row.map((r) => c.step[r]), value: a.value.slice() };
      continue;
    }
    const step: number[] = [], value: unknown[] = [];
    for (let b = 0; b < maxPoints; b++) {
      const lo = Math.floor((b * n) / maxPoints), hi = Math.floor(((b + 1) * n) / maxPoints);
      if (hi <= lo) continue;
      step.push(c.step[a.row[hi - 1]]);
      value.push(meanNested(a.value.slice(lo, hi)));
    }
    out[k] = { step, value };
  }
  return out;
}

/** Elementwise mean of equally shaped nested number arrays (shape taken from the first). */
function meanNested(xs: unknown[]): unknown {
  const first = xs[0];
  if (typeof first === 'number') return xs.reduce<number>((s, x) => s + (typeof x === 'number' ? x : 0), 0) / xs.length;
  if (!Array.isArray(first)) return first;
  return first.map((_, i) => meanNested(xs.map((x) => (Array.isArray(x) ? x[i] : 0))));
}

/** One line of samples.jsonl as the browser gets it: `index` is its line number among the samples. */
export interface SampleItem {
  index: number;
  step: number | null;
  prompt: string;
  completion: string;
  rewards: Record<string, number>;
  correct: boolean | null;
  [k: string]: unknown;
}

/** Words whose appearance in a reasoning marks a self-check (the same list as src/train/grpo.ts's REFLECTION_WORDS). */
export const REFLECTION_WORDS = ['wait', 'check', 'verify', 'again', 'recheck', 'mistake'];
const REFLECTION_RE = new RegExp(`\\b(${REFLECTION_WORDS.join('|')})\\b`, 'gi');

/** A samples file, parsed incrementally like MetricsColumns. */
export class SampleStore {
  readonly path: string;
  offset = 0;
  items: SampleItem[] = [];
  private ino: number | null = null;
  constructor(path: string) {
    this.path = path;
  }

  update(): SampleItem[] {
    const ino = inode(this.path);
    if (ino !== this.ino) {
      this.offset = 0;
      this.items = [];
      this.ino = ino;
    }
    const r = readJsonlFrom<Record<string, unknown>>(this.path, this.offset);
    if (r.reset) this.items = [];
    this.offset = r.next;
    const fresh = r.records.map((rec) => toSample(rec, this.items.length));
    for (const s of fresh) {
      s.index = this.items.length;
      this.items.push(s);
    }
    return fresh;
  }
}

export function toSample(rec: Record<string, unknown>, index: number): SampleItem {
  const rewards: Record<string, number> = {};
  if (rec.rewards && typeof rec.rewards === 'object') for (const [k, v] of Object.entries(rec.rewards)) if (typeof v === 'number') rewards[k] = v;
  return {
    ...rec,
    index,
    step: typeof rec.step === 'number' ? rec.step : null,
    prompt: typeof rec.prompt === 'string' ? rec.prompt : JSON.stringify(rec.prompt ?? ''),
    completion: typeof rec.completion === 'string' ? rec.completion : JSON.stringify(rec.completion ?? ''),
    rewards,
    correct: typeof rec.correct === 'boolean' ? rec.correct : null,
  };
}

export interface SampleQuery {
  filter: 'all' | 'correct' | 'incorrect';
  q: string;
  /** Exact prompt: every sample of it, by step (the "same prompt across steps" view). */
  prompt?: string;
  offset: number;
  limit: number;
  /** newest first (default) or oldest first */
  order: 'desc' | 'asc';
}

export function querySamples(items: SampleItem[], q: SampleQuery): { total: number; matched: number; items: SampleItem[] } {
  const needle = q.q.toLowerCase();
  let matched = items.filter((s) =>
    (q.filter === 'all' || (q.filter === 'correct' ? s.correct === true : s.correct === false)) &&
    (q.prompt === undefined || s.prompt === q.prompt) &&
    (needle === '' || s.prompt.toLowerCase().includes(needle) || s.completion.toLowerCase().includes(needle)));
  if (q.order === 'desc') matched = matched.slice().reverse();
  return { total: items.length, matched: matched.length, items: matched.slice(q.offset, q.offset + q.limit) };
}

/** Per reflection word: the first step where it appears in a correct completion, and how many correct completions hold it. */
export function ahaMoments(items: SampleItem[]): { word: string; firstStep: number | null; index: number; count: number }[] {
  const first = new Map<string, { firstStep: number | null; index: number; count: number }>();
  for (const s of items) {
    if (s.correct !== true) continue;
    const seen = new Set((s.completion.match(REFLECTION_RE) ?? []).map((w) => w.toLowerCase()));
    for (const w of seen) {
      const f = first.get(w);
      if (f) f.count++;
      else first.set(w, { firstStep: s.step, index: s.index, count: 1 });
    }
  }
  return [...first].map(([word, f]) => ({ word, ...f })).sort((a, b) => (a.firstStep ?? Infinity) - (b.firstStep ?? Infinity) || a.index - b.index);
}
