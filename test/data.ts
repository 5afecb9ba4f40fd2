// The project's real data (../shared/data beside the repository, DESIGN.md), found
// from the project root or a folder above it (git worktrees sit deeper); R1TS_DATA
// overrides. Shared by the tests and benchmarks that read it.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

/** The shared/data folder, or null when it is not there. */
export function sharedDataDir(): string | null {
  if (process.env.R1TS_DATA) return process.env.R1TS_DATA;
  for (let dir = root, i = 0; i < 4; i++, dir = dirname(dir)) {
    const p = join(dir, '..', 'shared', 'data');
    if (existsSync(p)) return p;
  }
  return null;
}

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
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
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
