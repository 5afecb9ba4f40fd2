// Where the tasks' datasets live and how their JSONL files are read. The real
// data is ../shared/data beside the repository (DESIGN.md); R1TS_DATA overrides,
// and every dataset task also takes an explicit `dataDir`.
// Not here: what a dataset's fields mean (each task file), downloads (none).

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { R1tsError } from '../core/errors.ts';
import { readJsonl } from '../core/jsonl.ts';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared/data folder: R1TS_DATA, else ../shared/data above the package or the working directory; null when absent. */
export function findDataDir(): string | null {
  if (process.env.R1TS_DATA) return process.env.R1TS_DATA;
  for (const start of [packageRoot, process.cwd()]) {
    for (let dir = start, i = 0; i < 5; i++, dir = dirname(dir)) {
      const p = join(dir, '..', 'shared', 'data');
      if (existsSync(p)) return p;
    }
  }
  return null;
}

/** The path of `rel` inside the data folder; throws naming the file and R1TS_DATA when missing. */
export function dataFile(rel: string, dataDir?: string): string {
  const dir = dataDir ?? findDataDir();
  if (!dir) throw new R1tsError(`dataset ${rel}: no data folder found (../shared/data beside the repository); set R1TS_DATA or pass --data-dir`);
  const p = join(dir, rel);
  if (!existsSync(p)) throw new R1tsError(`dataset ${rel}: ${p} does not exist (data folder ${dir}; set R1TS_DATA to the shared/data folder)`);
  return p;
}

/** The objects of a JSONL file (blank lines skipped); a malformed line throws naming file and line. */
export function readJsonlObjects(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) throw new R1tsError(`${path}: no such file`);
  return readJsonl<unknown>(path, { strict: true }).map((v, i) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new R1tsError(`${path}: record ${i + 1}: expected a JSON object`);
    return v as Record<string, unknown>;
  });
}

/** A string field of a dataset row (numbers are accepted and printed); throws naming the row and field. */
export function stringField(row: Record<string, unknown>, names: readonly string[], where: string): string {
  for (const n of names) {
    const v = row[n];
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  throw new R1tsError(`${where}: expected a string field ${names.map((n) => `'${n}'`).join(' or ')}`);
}

/** The items of a fixed list split for a task without its own training split: trainItem throws this. */
export function noTrainSplit(task: string): never {
  throw new R1tsError(`${task}: this task has only an evaluation split (no training items)`);
}
