// What the dashboard reads from a runs folder: the run directories in it, a
// run's metrics as Float64Array columns (read by a hand-written scanner that
// agrees with JSON.parse line for line, cached and extended incrementally as
// the file grows), min/max-preserving downsampling of those columns, and the sample
// browser's queries (paging, correct/incorrect, search, one prompt across
// steps, the first steps where reflection words appear in correct answers).
// Not here: HTTP (dashboard.ts), writing the files (src/train/run-log.ts).

import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
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

/** Bytes read per chunk of metrics.jsonl (a longer line grows the buffer). */
const CHUNK = 4 << 20;
/** 10^0 .. 10^22: every one exactly a double (the range of Clinger's fast path). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
const TWO53 = 2 ** 53;
const STEP = 0, TIME = 1; // key ids of `step` and `time`

/**
 * A metrics file as columns: `step`, `time` and every numeric figure as Float64Arrays (NaN where
 * a row lacks the figure: only finite numbers are kept, so NaN means "absent"), plus numeric-array
 * figures (e.g. expert load) kept per row where present. Extended by `update()` from the byte
 * offset it has read to, so a growing file is parsed once.
 *
 * The file is read in chunks and each line goes through a hand-written scanner of the flat shape
 * run-log.ts writes (`{"key":number|string|bool|null|[...],...}`): numbers are converted exactly
 * (Clinger's fast path, m·10^e with m < 2^53 and |e| ≤ 22 is one correctly rounded operation;
 * 16 to 19 digits over 10^p, p ≤ 22, in double-double: wideDecimal; anything else through Number()
 * on its text), arrays through JSON.parse of their own text.
 * A line it does not fully understand (an escape in a string, a nested object, a duplicate key,
 * anything not JSON) goes to JSON.parse whole, so a line is never read differently from JSON.parse:
 * test/server/run-data.test.ts checks the two on varied lines.
 */
export class MetricsColumns {
  readonly path: string;
  offset = 0;
  /** Complete lines that were not JSON (skipped). */
  badLines = 0;
  /** Lines read by the scanner and by the JSON.parse fallback (since the last start over). */
  fastLines = 0;
  slowLines = 0;
  rows = 0;
  /** Array figures: name → rows (row index, value). */
  arrays = new Map<string, { row: number[]; value: unknown[] }>();
  private ino: number | null = null;
  private cap = 0;
  private stepCol = new Float64Array(0); // [cap]
  private timeCol = new Float64Array(0); // [cap]
  /** Numeric figures in the order of their first finite value. */
  private cols = new Map<string, Float64Array>(); // each [cap]
  /** Every key met by the scanner → its id (0 step, 1 time), and id → name / column. */
  private keyIds = new Map<string, number>([['step', STEP], ['time', TIME]]);
  private keyNames: string[] = ['step', 'time'];
  private keyCols: (Float64Array | null)[] = [null, null];
  /** The previous line's keys by position (bytes and id): lines repeat their keys in order. */
  private lastKeys: { bytes: Buffer; id: number }[] = [];
  // one line's values, staged until the line is known to be good
  private seen: number[] = [0, 0];
  private lineNo = 0;
  private stN = 0;
  private stId = new Int32Array(64);
  private stV = new Float64Array(64);
  private stArr: { id: number; v: unknown[] }[] = [];

  private chunk: number;

  /** `chunkBytes`: bytes read at a time (tests use small ones to cut lines across reads). */
  constructor(path: string, opts: { chunkBytes?: number } = {}) {
    this.path = path;
    this.chunk = opts.chunkBytes ?? CHUNK;
  }

  /** Rows [0, rows) of `step`. */
  get step(): Float64Array {
    return this.stepCol.subarray(0, this.rows);
  }
  /** Rows [0, rows) of `time` (NaN where a row has no numeric time). */
  get time(): Float64Array {
    return this.timeCol.subarray(0, this.rows);
  }
  /** Numeric figures: name → rows [0, rows) (NaN where a row lacks it). */
  get series(): Map<string, Float64Array> {
    return new Map([...this.cols].map(([k, c]) => [k, c.subarray(0, this.rows)]));
  }
  /** One figure as plain numbers with null where a row lacks it (undefined: no such figure). */
  column(name: string): (number | null)[] | undefined {
    const c = name === 'step' ? this.stepCol : name === 'time' ? this.timeCol : this.cols.get(name);
    return c && Array.from(c.subarray(0, this.rows), (v) => (Number.isNaN(v) ? null : v));
  }

  /** Reads what was appended since the last call (a rewritten file starts over); returns how many records (good lines) it read. */
  update(): number {
    if (!this.startUpdate()) return 0;
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) this.clear();
      const before = this.fastLines + this.slowLines;
      let buf = Buffer.allocUnsafe(Math.min(this.chunk, Math.max(1, size - this.offset)));
      let keep = 0; // bytes of an unfinished line at buf's start
      let pos = this.offset; // file position of buf[keep]
      while (pos < size) {
        if (keep === buf.length) { // a line longer than the buffer
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, keep);
          buf = bigger;
        }
        const n = readSync(fd, buf, keep, Math.min(buf.length - keep, size - pos), pos);
        if (n === 0) break;
        if (pos === this.offset) this.reserve(buf, n, size - pos);
        pos += n;
        const got = keep + n;
        const end = buf.lastIndexOf(10, got - 1); // the last '\n'
        if (end < 0) {
          keep = got;
          continue;
        }
        this.lines(buf, 0, end);
        this.offset = pos - got + end + 1;
        buf.copy(buf, 0, end + 1, got);
        keep = got - end - 1;
      }
      return this.fastLines + this.slowLines - before;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * update() without blocking the server: chunks are read asynchronously (the next one is read
   * while this one is parsed, so the disk and the parsing overlap) and requests are served
   * between chunks. One call at a time per object (the server keeps one in flight per run).
   */
  async updateAsync(): Promise<number> {
    if (!this.startUpdate()) return 0;
    const fh = await open(this.path, 'r');
    try {
      const size = (await fh.stat()).size;
      if (size < this.offset) this.clear();
      const before = this.fastLines + this.slowLines;
      const len = Math.min(this.chunk, Math.max(1, size - this.offset));
      let cur = Buffer.allocUnsafe(len), next = Buffer.allocUnsafe(len);
      let pos = this.offset; // file position just past `cur`'s data
      let tail: Buffer | null = null; // an unfinished line carried over from earlier chunks
      let got = pos < size ? (await fh.read(cur, 0, Math.min(len, size - pos), pos)).bytesRead : 0;
      this.reserve(cur, got, size - pos);
      pos += got;
      while (got > 0) {
        const pending = pos < size ? fh.read(next, 0, Math.min(len, size - pos), pos) : null;
        const first = cur.indexOf(10);
        if (first < 0 || first >= got) tail = Buffer.concat(tail ? [tail, cur.subarray(0, got)] : [cur.subarray(0, got)]);
        else {
          let start = 0;
          if (tail) { // the line that began in an earlier chunk
            const line = Buffer.concat([tail, cur.subarray(0, first + 1)]);
            this.line(line, 0, line.length - 1);
            tail = null;
            start = first + 1;
          }
          const end = cur.lastIndexOf(10, got - 1);
          this.lines(cur, start, end);
          this.offset = pos - got + end + 1;
          if (end + 1 < got) tail = Buffer.from(cur.subarray(end + 1, got)); // a copy: cur is read into again
        }
        if (!pending) break;
        got = (await pending).bytesRead;
        pos += got;
        [cur, next] = [next, cur];
      }
      return this.fastLines + this.slowLines - before;
    } finally {
      await fh.close();
    }
  }

  /** Starts over where the file was replaced; false where there is no file. */
  private startUpdate(): boolean {
    const ino = inode(this.path);
    if (ino !== this.ino) {
      this.clear();
      this.ino = ino;
    }
    if (!existsSync(this.path)) {
      if (this.offset > 0) this.clear();
      return false;
    }
    return true;
  }

  /** The complete lines of buf[start, end], end being a '\n'. */
  private lines(buf: Buffer, start: number, end: number): void {
    while (start <= end) {
      const nl = buf.indexOf(10, start);
      this.line(buf, start, nl);
      start = nl + 1;
    }
  }

  private clear(): void {
    this.offset = 0;
    this.badLines = 0;
    this.fastLines = 0;
    this.slowLines = 0;
    this.rows = 0;
    this.cols.clear();
    this.keyCols.fill(null);
    this.arrays.clear();
  }

  /** One complete line, buf[s, e) without its '\n'. */
  private line(b: Buffer, s: number, e: number): void {
    let i = s;
    while (i < e && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0d)) i++;
    if (i === e) return; // blank
    if (this.scan(b, i, e)) {
      this.fastLines++;
      this.commit();
      return;
    }
    const text = b.toString('utf8', s, e);
    if (text.trim() === '') return; // blank by String.prototype.trim, as readJsonlFrom skips it
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      this.badLines++;
      return;
    }
    this.slowLines++;
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return;
    this.stN = 0;
    this.stArr.length = 0;
    for (const [k, v] of Object.entries(rec)) {
      const id = this.keyId(k);
      if (typeof v === 'number') this.stage(id, v);
      else if (Array.isArray(v)) this.stArr.push({ id, v });
      else if (id === STEP || id === TIME) this.stage(id, NaN);
    }
    this.commit();
  }

  private keyId(k: string): number {
    let id = this.keyIds.get(k);
    if (id === undefined) {
      this.keyIds.set(k, (id = this.keyNames.length));
      this.keyNames.push(k);
      this.keyCols.push(null);
      this.seen.push(0);
    }
    return id;
  }

  /** Scans one line starting at its '{' into the staging lists; false: not understood (the caller uses JSON.parse). */
  private scan(b: Buffer, i: number, e: number): boolean {
    if (b[i] !== 0x7b) return false; // '{'
    const line = ++this.lineNo;
    this.stN = 0;
    this.stArr.length = 0;
    i = ws(b, i + 1, e);
    if (b[i] === 0x7d) return ws(b, i + 1, e) === e; // {}
    for (let k = 0; ; k++) {
      // the key: printable ASCII without escapes
      if (b[i] !== 0x22) return false;
      const ks = ++i;
      while (i < e && b[i] !== 0x22) {
        const c = b[i];
        if (c < 0x20 || c >= 0x80 || c === 0x5c) return false;
        i++;
      }
      if (i >= e) return false;
      const id = this.lineKey(b, ks, i, k);
      if (this.seen[id] === line) return false; // a duplicate key: JSON.parse keeps the last
      this.seen[id] = line;
      i++;
      if (b[i] !== 0x3a) { // ':'
        i = ws(b, i, e);
        if (b[i] !== 0x3a) return false;
      }
      i++;
      if (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0d) i = ws(b, i, e);
      const c = b[i];
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        i = this.number(b, i, e, id);
        if (i < 0) return false;
      } else if (c === 0x22) { // a string: skipped, checked for what JSON.parse would refuse
        i++;
        while (i < e && b[i] !== 0x22) {
          if (b[i] < 0x20 || b[i] === 0x5c) return false;
          i++;
        }
        if (i >= e) return false;
        i++;
        if (id === STEP || id === TIME) this.stage(id, NaN);
      } else if (c === 0x5b) { // '[': an array figure, parsed by JSON.parse on its own text
        const close = matchBracket(b, i, e);
        if (close < 0) return false;
        let v: unknown;
        try {
          v = JSON.parse(b.toString('utf8', i, close + 1));
        } catch {
          return false;
        }
        this.stArr.push({ id, v: v as unknown[] });
        i = close + 1;
      } else if (isWord(b, i, e, 'null') || isWord(b, i, e, 'true')) {
        i += 4;
        if (id === STEP || id === TIME) this.stage(id, NaN);
      } else if (isWord(b, i, e, 'false')) {
        i += 5;
        if (id === STEP || id === TIME) this.stage(id, NaN);
      } else return false; // a nested object, or not JSON
      if (b[i] !== 0x2c && b[i] !== 0x7d) i = ws(b, i, e);
      if (b[i] === 0x2c) { // ','
        i++;
        if (b[i] !== 0x22) i = ws(b, i, e);
        continue;
      }
      if (b[i] === 0x7d) return i + 1 === e || ws(b, i + 1, e) === e;
      return false;
    }
  }

  /** The id of the key in b[s, e), the line's k-th: compared with the previous line's k-th key first. */
  private lineKey(b: Buffer, s: number, e: number, k: number): number {
    const last = this.lastKeys[k];
    if (last && last.bytes.length === e - s) {
      let same = true;
      for (let j = 0; j < e - s; j++) if (last.bytes[j] !== b[s + j]) {
        same = false;
        break;
      }
      if (same) return last.id;
    }
    const id = this.keyId(b.toString('latin1', s, e));
    this.lastKeys[k] = { bytes: Buffer.from(b.subarray(s, e)), id };
    return id;
  }

  /** A JSON number at b[i]: staged under `id`; returns the index after it, or -1 where it is not JSON's number grammar. */
  private number(b: Buffer, i: number, e: number, id: number): number {
    const s = i;
    if (b[i] === 0x2d) i++;
    let m = 0, scale = 0;
    if (b[i] === 0x30) i++; // a leading 0 stands alone
    else if (b[i] >= 0x31 && b[i] <= 0x39) {
      while (i < e && b[i] >= 0x30 && b[i] <= 0x39) {
        m = m * 10 + (b[i] - 0x30);
        i++;
      }
    } else return -1;
    if (b[i] === 0x2e) { // '.'
      i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) return -1;
      while (i < e && b[i] >= 0x30 && b[i] <= 0x39) {
        m = m * 10 + (b[i] - 0x30);
        scale--;
        i++;
      }
    }
    if (b[i] === 0x65 || b[i] === 0x45) { // 'e' | 'E'
      i++;
      let sign = 1, x = 0;
      if (b[i] === 0x2b) i++;
      else if (b[i] === 0x2d) (sign = -1), i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) return -1;
      while (i < e && b[i] >= 0x30 && b[i] <= 0x39) {
        if (x < 1e6) x = x * 10 + (b[i] - 0x30);
        i++;
      }
      scale += sign * x;
    }
    // m < 2^53: every partial sum was exact too (they only grow, and rounding cannot cross 2^53)
    let v = m < TWO53 && scale >= -22 && scale <= 22
      ? (scale < 0 ? m / POW10[-scale] : m * POW10[scale]) // both exact: one correctly rounded operation
      : scale <= 0 && scale >= -22 ? wideDecimal(b, s, i, -scale) : NaN;
    if (Number.isNaN(v)) v = Number(b.toString('latin1', s, i)); // V8's exact conversion
    else if (b[s] === 0x2d) v = -v;
    this.stage(id, v);
    return i;
  }

  private stage(id: number, v: number): void {
    const n = this.stN++;
    if (n === this.stId.length) {
      const grow = <T extends Int32Array | Float64Array>(x: T, y: T): T => (y.set(x), y);
      this.stId = grow(this.stId, new Int32Array(2 * n));
      this.stV = grow(this.stV, new Float64Array(2 * n));
    }
    this.stId[n] = id;
    this.stV[n] = v;
  }

  /** Adds the staged line as a row (when its step is a number). */
  private commit(): void {
    let js = -1, jt = -1;
    for (let j = 0; j < this.stN; j++) {
      if (this.stId[j] === STEP) js = j;
      else if (this.stId[j] === TIME) jt = j;
    }
    if (js < 0 || Number.isNaN(this.stV[js])) return; // no numeric step: not a row
    const r = this.rows++;
    if (r === this.cap) this.grow();
    for (let j = 0; j < this.stN; j++) {
      const id = this.stId[j], v = this.stV[j];
      if (id === STEP) this.stepCol[r] = v;
      else if (id === TIME) this.timeCol[r] = v;
      else if (Number.isFinite(v)) {
        let col = this.keyCols[id];
        if (!col) {
          col = new Float64Array(this.cap).fill(NaN); // [cap]
          this.keyCols[id] = col;
          this.cols.set(this.keyNames[id], col);
        }
        col[r] = v;
      }
    }
    if (jt < 0) this.timeCol[r] = NaN;
    for (const { id, v } of this.stArr) {
      if (id === STEP || id === TIME || !Array.isArray(v) || v.length === 0) continue;
      const name = this.keyNames[id];
      let a = this.arrays.get(name);
      if (!a) this.arrays.set(name, (a = { row: [], value: [] }));
      a.row.push(r);
      a.value.push(v);
    }
  }

  /**
   * Sizes the columns for the rows `ahead` bytes will hold, judged by the first line of buf[0, n)
   * (at most one row per 11 bytes, the shortest row: {"step":0}), so that a large file is not
   * copied column by column through repeated doublings.
   */
  private reserve(buf: Buffer, n: number, ahead: number): void {
    const nl = buf.indexOf(10);
    if (nl < 0 || nl >= n) return;
    const rows = this.rows + Math.ceil(Math.min(ahead / 11, (1.1 * ahead) / (nl + 1)));
    if (rows > this.cap) this.grow(rows);
  }

  private grow(want = 0): void {
    const cap = Math.max(1024, this.cap * 2, want);
    const more = (old: Float64Array) => {
      const c = new Float64Array(cap).fill(NaN, this.cap); // [cap]
      c.set(old.subarray(0, this.cap));
      return c;
    };
    this.stepCol = more(this.stepCol);
    this.timeCol = more(this.timeCol);
    for (let id = 0; id < this.keyCols.length; id++) {
      const c = this.keyCols[id];
      if (c) {
        this.keyCols[id] = more(c);
        this.cols.set(this.keyNames[id], this.keyCols[id]!);
      }
    }
    this.cap = cap;
  }
}

// Dekker's exact product a·b = PH + PL (no FMA in JavaScript): the operands split in 26-bit halves.
const SPLIT = 134217729; // 2^27 + 1
let PH = 0, PL = 0;
function twoProduct(a: number, b: number): void {
  PH = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b), bl = b - bh;
  PL = ah * bh - PH + ah * bl + al * bh + al * bl;
}
const F64 = new Float64Array(1), U32 = new Uint32Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A decimal of 16 to 19 significant digits over 10^p (p ≤ 22), the digits in b[s, end) (sign,
 * point and exponent skipped), correctly rounded; NaN where it cannot be sure (the caller then
 * uses Number()). m = hi·10^k + lo is held exactly as s1 + e1, divided by D = 10^p in
 * double-double (q1 = RN(s1/D), whose remainder s1 − q1·D is exactly a double, plus its
 * correction q2), which is m/D within about 2^-104 of its size; d = RN(q1 + q2) is then the
 * correctly rounded quotient unless q1 + q2 lies within 2^-30 half-ulps of a rounding midpoint
 * (far beyond that error; ties and powers of two also go to Number()).
 */
function wideDecimal(b: Buffer, s: number, end: number, p: number): number {
  if (!LITTLE_ENDIAN) return NaN;
  let hi = 0, lo = 0, nh = 0, nl = 0;
  for (let j = s; j < end; j++) {
    const c = b[j];
    if (c === 0x2d || c === 0x2e) continue; // '-' '.'
    if (c === 0x65 || c === 0x45) break; // 'e' 'E'
    const d = c - 0x30;
    if (nh === 0 && d === 0) continue; // leading zeros
    if (nh < 15) (hi = hi * 10 + d), nh++;
    else if (nl < 4) (lo = lo * 10 + d), nl++;
    else return NaN; // more than 19 digits
  }
  twoProduct(hi, POW10[nl]); // hi·10^nl = PH + PL exactly; integers below 2^64
  const s1 = PH + lo, bv = s1 - PH;
  const e1 = PH - (s1 - bv) + (lo - bv) + PL; // m = s1 + e1 exactly (two integers of at most 11 bits)
  const D = POW10[p];
  const q1 = s1 / D;
  twoProduct(q1, D);
  const q2 = (s1 - PH - PL + e1) / D; // s1 − PH exact (Sterbenz), − PL exact (the remainder is a double)
  const d = q1 + q2, bq = d - q1;
  const err = q1 - (d - bq) + (q2 - bq); // q1 + q2 = d + err exactly
  F64[0] = d;
  const exp = (U32[1] >>> 20) & 0x7ff;
  if (exp < 60 || exp === 0x7ff || ((U32[1] & 0xfffff) === 0 && U32[0] === 0)) return NaN; // tiny, not finite, or a power of two
  U32[1] = (exp - 53) << 20; // 2^(exp − 1076): half an ulp of d
  U32[0] = 0;
  const half = F64[0];
  return half - Math.abs(err) > half * 2 ** -30 ? d : NaN;
}

/** The index of the first byte at or after i that is not JSON whitespace. */
function ws(b: Buffer, i: number, e: number): number {
  while (i < e && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0d || b[i] === 0x0a)) i++;
  return i;
}

function isWord(b: Buffer, i: number, e: number, w: string): boolean {
  if (i + w.length > e) return false;
  for (let j = 0; j < w.length; j++) if (b[i + j] !== w.charCodeAt(j)) return false;
  return true;
}

/** The index of the ']' closing the '[' at b[i] (strings skipped), or -1. */
function matchBracket(b: Buffer, i: number, e: number): number {
  let depth = 0;
  for (; i < e; i++) {
    const c = b[i];
    if (c === 0x22) {
      for (i++; i < e && b[i] !== 0x22; i++) if (b[i] === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      if (--depth === 0) return c === 0x5d ? i : -1;
    }
  }
  return -1;
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
  time: (number | null)[];
  series: Record<string, (number | null)[]>;
  /** Array figures (expert load ...): steps and values, at most `maxPoints` rows (bucket means). */
  arrays: Record<string, { step: number[]; value: unknown[] }>;
}

const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v);

/**
 * The columns cut to at most `maxPoints` rows: with more rows than that, the rows are split into
 * maxPoints/2 buckets of consecutive rows and each bucket becomes two points (at its first and
 * last step) that carry, per series, the bucket's minimum and maximum in the order they occur,
 * so every peak and trough of every curve survives. Fewer rows come back as they are.
 */
export function downsample(c: MetricsColumns, maxPoints: number): DownsampledMetrics {
  const n = c.rows;
  const cStep = c.step, cTime = c.time, cols = [...c.series];
  const base = { rows: n, badLines: c.badLines, offset: c.offset, arrays: downsampleArrays(c, maxPoints) };
  if (n <= maxPoints || maxPoints < 2) {
    return { ...base, points: n, downsampled: false, step: Array.from(cStep), time: Array.from(cTime, orNull), series: Object.fromEntries(cols.map(([k, v]) => [k, Array.from(v, orNull)])) };
  }
  const buckets = Math.floor(maxPoints / 2);
  const step: number[] = [], time: (number | null)[] = [];
  const series: Record<string, (number | null)[]> = {};
  for (const [k] of cols) series[k] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * n) / buckets), hi = Math.floor(((b + 1) * n) / buckets); // rows [lo, hi)
    if (hi <= lo) continue;
    step.push(cStep[lo], cStep[hi - 1]);
    time.push(orNull(cTime[lo]), orNull(cTime[hi - 1]));
    for (const [k, col] of cols) {
      let iMin = -1, iMax = -1, vMin = Infinity, vMax = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = col[i];
        if (v !== v) continue; // NaN: absent
        if (v < vMin || iMin < 0) (vMin = v), (iMin = i);
        if (v > vMax || iMax < 0) (vMax = v), (iMax = i);
      }
      const out = series[k];
      if (iMin < 0) out.push(null, null);
      else if (iMin <= iMax) out.push(vMin, vMax);
      else out.push(vMax, vMin);
    }
  }
  return { ...base, points: step.length, downsampled: true, step, time, series };
}

function downsampleArrays(c: MetricsColumns, maxPoints: number): DownsampledMetrics['arrays'] {
  const out: DownsampledMetrics['arrays'] = {};
  const cStep = c.step;
  for (const [k, a] of c.arrays) {
    const n = a.row.length;
    if (n <= maxPoints) {
      out[k] = { step: a.row.map((r) => cStep[r]), value: a.value.slice() };
      continue;
    }
    const step: number[] = [], value: unknown[] = [];
    for (let b = 0; b < maxPoints; b++) {
      const lo = Math.floor((b * n) / maxPoints), hi = Math.floor(((b + 1) * n) / maxPoints);
      if (hi <= lo) continue;
      step.push(cStep[a.row[hi - 1]]);
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
