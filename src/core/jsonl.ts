// Append-only JSON-lines files that survive crashes: every record goes out in
// one appendFileSync of the whole line plus '\n', so a crash tears at most the
// last line; readers skip such a torn final line (it lacks its '\n' and does
// not parse), and a malformed line anywhere else is an error naming path:line.
// `repair` also fixes the file in place before appending resumes: a torn tail
// is cut off, a whole last line that only lost its '\n' gets it back.
// Used by run directories (metrics.jsonl, samples.jsonl; readJsonlFrom tails them for the
// dashboard) and resumable evaluation results, and (strict) by the tasks' dataset files. Not here: what the records hold.

import { appendFileSync, closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, truncateSync } from 'node:fs';
import { R1tsError } from './errors.ts';

/**
 * The records of a JSON-lines file (missing file: none). `strict`: a torn last line is an
 * error too (for input files such as datasets, where nothing was being appended).
 */
export function readJsonl<T = Record<string, unknown>>(path: string, opts: { repair?: boolean; strict?: boolean } = {}): T[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: T[] = [];
  let offset = 0;
  lines.forEach((line, i) => {
    const last = i === lines.length - 1; // no '\n' after it
    if (line.trim() !== '') {
      try {
        out.push(JSON.parse(line) as T);
        if (last && opts.repair) appendFileSync(path, '\n');
      } catch (e) {
        if (!last || opts.strict) throw new R1tsError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
        if (opts.repair) truncateSync(path, offset);
      }
    }
    offset += Buffer.byteLength(line, 'utf8') + 1;
  });
  return out;
}

/** Appends one record as a whole line. */
export function appendJsonl(path: string, value: unknown): void {
  appendFileSync(path, JSON.stringify(value) + '\n');
}

/**
 * The whole lines appended since byte `offset` (for tailing a file that is being written):
 * records of the complete lines, the offset just past the last '\n' (a torn or still-being-written
 * last line is left for the next call), and the complete lines that did not parse (skipped,
 * named by their byte offset). A file shorter than `offset` (rewritten on resume) reads as
 * `reset: true` from 0. A missing file has no records.
 */
export function readJsonlFrom<T = Record<string, unknown>>(path: string, offset: number): { records: T[]; next: number; reset: boolean; bad: { offset: number; message: string }[] } {
  if (!existsSync(path)) return { records: [], next: 0, reset: offset > 0, bad: [] };
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let reset = false;
    if (size < offset) {
      offset = 0;
      reset = true;
    }
    if (size === offset) return { records: [], next: offset, reset, bad: [] };
    const buf = Buffer.allocUnsafe(size - offset);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    const end = buf.lastIndexOf(10, got - 1); // last '\n'
    if (end < 0) return { records: [], next: offset, reset, bad: [] };
    const records: T[] = [];
    const bad: { offset: number; message: string }[] = [];
    let start = 0;
    while (start <= end) {
      const nl = buf.indexOf(10, start);
      const line = buf.toString('utf8', start, nl);
      if (line.trim() !== '') {
        try {
          records.push(JSON.parse(line) as T);
        } catch (e) {
          bad.push({ offset: offset + start, message: (e as Error).message });
        }
      }
      start = nl + 1;
    }
    return { records, next: offset + end + 1, reset, bad };
  } finally {
    closeSync(fd);
  }
}
