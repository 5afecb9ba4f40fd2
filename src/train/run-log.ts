// The files of a run directory that the CLI, dashboard and tests read:
// runs/<name>/metrics.jsonl (one JSON object per step: step, time in unix
// seconds, named figures) and runs/<name>/samples.jsonl (free-form objects).
// Every line goes out in one appendFileSync of the whole line plus '\n', so a
// crash leaves at most one torn final line, which readJsonl skips. On resume the
// metrics after the resumed step are dropped (rewritten atomically), so the
// file never holds a step twice.
// Not here: checkpoints (src/io/checkpoint.ts), console progress (progress.ts).

import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { R1tsError } from '../core/errors.ts';

/**
 * Parses a JSON-lines file. A final line that lacks its '\n' and does not parse
 * (a write torn by a crash) is skipped; any other malformed line throws, naming it.
 * A missing file reads as [].
 */
export function readJsonl<T = Record<string, unknown>>(path: string): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch (e) {
      const torn = i === lines.length - 1; // no '\n' after it
      if (!torn) throw new R1tsError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  });
  return out;
}

export interface MetricsRecord {
  step: number;
  /** Unix seconds. */
  time: number;
  [figure: string]: number | string | boolean | null | number[];
}

export class RunLog {
  readonly dir: string;
  readonly metricsPath: string;
  readonly samplesPath: string;

  /**
   * Opens (creating) a run directory. `resumeStep`: keep the metrics of steps ≤ it and drop the
   * rest (0 for a fresh run drops everything); undefined keeps the files as they are.
   */
  constructor(dir: string, opts: { resumeStep?: number } = {}) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.metricsPath = join(dir, 'metrics.jsonl');
    this.samplesPath = join(dir, 'samples.jsonl');
    if (opts.resumeStep !== undefined) this.truncateAfter(opts.resumeStep);
  }

  /** Drops metrics lines with step > step (and a torn last line), atomically. */
  truncateAfter(step: number): void {
    if (!existsSync(this.metricsPath)) return;
    const kept = readJsonl<MetricsRecord>(this.metricsPath).filter((r) => typeof r.step === 'number' && r.step <= step);
    writeFileAtomic(this.metricsPath, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  /** Appends one metrics line: { step, time, ...figures }. */
  metrics(step: number, figures: Record<string, number | string | boolean | null | number[]>, time = Date.now() / 1000): MetricsRecord {
    const rec: MetricsRecord = { step, time, ...figures };
    appendLine(this.metricsPath, rec);
    return rec;
  }

  /** Appends one sample line (prompt, completion, rewards by name, ...). */
  sample(record: Record<string, unknown>): void {
    appendLine(this.samplesPath, record);
  }

  readMetrics(): MetricsRecord[] {
    return readJsonl<MetricsRecord>(this.metricsPath);
  }
}

function appendLine(path: string, record: unknown): void {
  // One write of the whole line: a crash can tear only this line, never interleave two.
  appendFileSync(path, JSON.stringify(record) + '\n');
}
