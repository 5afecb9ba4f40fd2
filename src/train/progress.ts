// Console progress for long work. On a terminal: one line redrawn in place
// (label, step/total, %, rate, ETA, named fields such as loss), at most
// `maxRedrawsPerSecond` times a second. Piped (not a TTY): plain lines every
// `everySteps` steps or `everySeconds` seconds, and at the last step.
// Writes to stderr unless given a stream (tests pass a fake one and a clock).
// Not here: the metrics files (run-log.ts) — this is for people only.

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  total: number;
  label?: string;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Overrides stream.isTTY. */
  tty?: boolean;
  /** Start counting from this step (a resumed run); the rate counts only steps done here. */
  startStep?: number;
  /** Unit of the rate (default 'it'). */
  unit?: string;
  maxRedrawsPerSecond?: number;
  /** Piped mode: a line every this many steps (default max(1, total/20))... */
  everySteps?: number;
  /** ...or when this many seconds have passed since the last line (default 10). */
  everySeconds?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export type ProgressFields = Record<string, number | string>;

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, '0'), ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
}

function fmtField(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(4);
}

export class Progress {
  readonly total: number;
  private readonly label: string;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly unit: string;
  private readonly minGapMs: number;
  private readonly everySteps: number;
  private readonly everyMs: number;
  private readonly startStep: number;
  private readonly t0: number;
  private lastDraw = -Infinity;
  private lastLineStep: number;
  private lastLineTime: number;
  private step: number;
  private fields: ProgressFields = {};
  private drawn = false;
  private finished = false;

  constructor(o: ProgressOptions) {
    this.total = o.total;
    this.label = o.label ?? '';
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? Boolean(this.stream.isTTY);
    this.now = o.now ?? (() => performance.now());
    this.unit = o.unit ?? 'it';
    this.minGapMs = 1000 / (o.maxRedrawsPerSecond ?? 10);
    this.everySteps = o.everySteps ?? Math.max(1, Math.round(o.total / 20));
    this.everyMs = (o.everySeconds ?? 10) * 1000;
    this.startStep = o.startStep ?? 0;
    this.step = this.startStep;
    this.t0 = this.now();
    this.lastLineStep = this.startStep;
    this.lastLineTime = this.t0;
  }

  /** Reports that `step` steps are done (absolute, out of total), with fields to show. */
  update(step: number, fields: ProgressFields = {}): void {
    this.step = step;
    this.fields = fields;
    const t = this.now();
    const last = step >= this.total;
    if (this.tty) {
      if (!last && t - this.lastDraw < this.minGapMs) return;
      this.lastDraw = t;
      this.stream.write(`\r\x1b[2K${this.line(t)}`);
      this.drawn = true;
    } else if (last || step - this.lastLineStep >= this.everySteps || t - this.lastLineTime >= this.everyMs) {
      this.lastLineStep = step;
      this.lastLineTime = t;
      this.stream.write(this.line(t) + '\n');
    }
  }

  /** Ends the bar (a newline on a terminal); safe to call twice. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[2K${this.line(this.now())}\n`);
    }
  }

  /** The text of the current state at time t (ms). */
  line(t = this.now()): string {
    const done = this.step - this.startStep;
    const secs = (t - this.t0) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 ? (this.total - this.step) / rate : NaN;
    const pct = this.total > 0 ? Math.floor((100 * this.step) / this.total) : 100;
    const parts = [`${this.label ? this.label + ' ' : ''}${this.step}/${this.total}`, `${pct}%`];
    if (this.tty) {
      const width = 20, fill = Math.round((width * Math.min(this.step, this.total)) / Math.max(1, this.total));
      parts[1] = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}%`;
    }
    parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)} ${this.unit}/s`, `eta ${fmtTime(eta)}`);
    for (const [k, v] of Object.entries(this.fields)) parts.push(`${k} ${fmtField(v)}`);
    return parts.join(' | ');
  }
}
