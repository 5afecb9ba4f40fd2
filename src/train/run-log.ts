// The files of a run directory that the CLI, dashboard and tests read:
// runs/<name>/metrics.jsonl (one JSON object per step: step, time in unix
// seconds, named figures) and runs/<name>/samples.jsonl (free-form objects).
// Lines are written and read by src/core/jsonl.ts (a crash tears at most the
// final line, which readers skip). On resume the
// metrics after the resumed step are dropped (rewritten atomically), so the
// file never holds a step twice.
// Not here: checkpoints (src/io/checkpoint.ts), console progress (progress.ts).

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { appendJsonl, readJsonl } from '../core/jsonl.ts';

export interface MetricsRecord {
  step: number;
  /** Unix seconds. */
  time: number;
  [figure: string]: number | string | boolean | null | number[] | number[][];
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
  metrics(step: number, figures: Record<string, number | string | boolean | null | number[] | number[][]>, time = Date.now() / 1000): MetricsRecord {
    const rec: MetricsRecord = { step, time, ...figures };
    appendJsonl(this.metricsPath, rec);
    return rec;
  }

  /** Appends one sample line (prompt, completion, rewards by name, ...). */
  sample(record: Record<string, unknown>): void {
    appendJsonl(this.samplesPath, record);
  }

  readMetrics(): MetricsRecord[] {
    return readJsonl<MetricsRecord>(this.metricsPath);
  }
}
