// The per-item results file of a resumable evaluation: one JSON object a line,
// appended as each item finishes (one appendFileSync of the whole line, so a
// crash tears at most the last line). On open a torn last line is cut off (it
// did not parse and lacks its '\n'), so the next append starts a clean line;
// a malformed line anywhere else is an error naming it.
// Not here: what a line holds (harness.ts), the final report (report.ts).

import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { R1tsError } from '../core/errors.ts';

/** Reads the lines of a results file (missing = none) and repairs a torn last line in place. */
export function openResultsFile<T>(path: string): T[] {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    return [];
  }
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const last = i === lines.length - 1;
    if (line.trim() !== '') {
      try {
        out.push(JSON.parse(line) as T);
        if (last) appendFileSync(path, '\n'); // a whole line that only lost its newline
      } catch (e) {
        if (!last) throw new R1tsError(`${path}:${i + 1}: not valid JSON (${(e as Error).message}); remove the line or start a new results file`);
        truncateSync(path, offset); // torn by a crash: drop it, the item runs again
      }
    }
    offset += Buffer.byteLength(line, 'utf8') + 1;
  }
  return out;
}

/** Appends one result as a line. */
export function appendResult(path: string, value: unknown): void {
  appendFileSync(path, JSON.stringify(value) + '\n');
}
