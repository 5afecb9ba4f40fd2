// The project's real data (../shared/data beside the repository, DESIGN.md), found
// from the project root or a folder above it (git worktrees sit deeper); R1TS_DATA
// overrides. Shared by the tests and benchmarks that read it.

import { readJsonl as readJsonlFile } from '../src/core/jsonl.ts';
import { findDataDir } from '../src/tasks/data-files.ts';

/** The shared/data folder, or null when it is not there (the same search the dataset tasks use). */
export const sharedDataDir = findDataDir;

/** The shared/data folder; throws naming R1TS_DATA when it is missing. */
export function requireSharedData(): string {
  const d = sharedDataDir();
  if (!d) throw new Error('shared data not found (../shared/data beside the repository): set R1TS_DATA to the shared/data folder');
  return d;
}

/**
 * The `skip` option of a test that needs the shared data: skipped, saying why, on a machine
 * without it (a fresh clone outside the workspace); under CI=true never skipped, so a missing
 * data folder fails there loudly instead of hiding.
 */
export function skipWithoutData(): string | false {
  if (sharedDataDir() || process.env.CI === 'true') return false;
  return 'no ../shared/data beside the repository (set R1TS_DATA to run the real-data tests)';
}

/** Non-empty lines of a JSONL file, parsed. */
export function readJsonl<T = Record<string, unknown>>(path: string): T[] {
  return readJsonlFile<T>(path, { strict: true });
}

/** The content of the last brace-matched \\boxed{...} in s ('' when none): how MATH-500 marks a solution's answer. */
export function lastBoxed(s: string): string {
  const i = s.lastIndexOf('\\boxed');
  if (i < 0) return '';
  const j = s.indexOf('{', i);
  let d = 0;
  for (let k = j; k >= 0 && k < s.length; k++) {
    if (s[k] === '{') d++;
    else if (s[k] === '}' && --d === 0) return s.slice(j + 1, k);
  }
  return '';
}
