// Append-only JSON-lines files that survive crashes: every record goes out in
// one appendFileSync of the whole line plus '\n', so a crash tears at most the
// last line; readers skip such a torn final line (it lacks its '\n' and does
// not parse), and a malformed line anywhere else is an error naming path:line.
// `repair` also fixes the file in place before appending resumes: a torn tail
// is cut off, a whole last line that only lost its '\n' gets it back.
// Used by run directories (metrics.jsonl, samples.jsonl) and resumable
// evaluation results, and (strict) by the tasks' dataset files. Not here: what the records hold.

import { appendFileSync, existsSync, readFileSync, truncateSync } from 'node:fs';
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
