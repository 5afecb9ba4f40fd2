// The per-item results file of a resumable evaluation: one JSON object a line,
// appended as each item finishes (src/core/jsonl.ts: one write per line, so a
// crash tears at most the last line). On open the file is repaired in place (a
// torn last line is cut off, so the next append starts a clean line, and that
// item runs again); a malformed line anywhere else is an error naming it.
// Not here: what a line holds (harness.ts), the final report (report.ts).

import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { appendJsonl, readJsonl } from '../core/jsonl.ts';
import type { EvalItemResult, ResultsStore } from './harness.ts';

/** Reads the lines of a results file (missing = none) and repairs a torn last line in place. */
export function openResultsFile<T>(path: string): T[] {
  if (!existsSync(path)) mkdirSync(dirname(path), { recursive: true });
  return readJsonl<T>(path, { repair: true });
}

/** Appends one result as a line. */
export const appendResult = appendJsonl;

/** A JSONL results file as the harness's store: read (and repaired) on load, a line per append. */
export function resultsFile(path: string): ResultsStore {
  return { name: path, load: () => openResultsFile<EvalItemResult>(path), append: (r) => appendResult(path, r) };
}
