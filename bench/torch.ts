// The PyTorch anchor's plumbing shared by bench:models and bench:train: runs
// bench/torch_models.py under Debian's system python (/usr/bin/python3, where
// python3-torch lives — not a pyenv python on PATH) with PyTorch's best
// environment: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset,
// OMP_WAIT_POLICY=PASSIVE, OMP/OpenBLAS/MKL threads equal to its thread count.
// Not here: the models or the timing (torch_models.py), the r1ts side.

import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

export type TorchResult = { train: Record<string, number>; train_cpu?: Record<string, number>; decode: Record<string, Record<string, number>>; torch: string; threads: number };
export type TorchRun = { t: number; r: TorchResult | { error: string } };

export function torchInstalled(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

/** One torch_models.py run on `threads` threads; `spec` is its JSON argument. */
export function torchRun(spec: unknown, threads: number): TorchResult | { error: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), R1TS_TORCH_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync('/usr/bin/python3', [resolve(import.meta.dirname, 'torch_models.py'), JSON.stringify(spec)], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').at(-1)! };
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** Runs the spec on 1 thread and on all cores (when installed); `best` picks the best figure over the runs that worked. */
export function torchRuns(spec: unknown): { installed: boolean; runs: TorchRun[]; best: (pick: (r: TorchResult) => number | undefined) => number | null; at: (threads: number, pick: (r: TorchResult) => number | undefined) => number | null; describe: () => string } {
  const installed = torchInstalled();
  const runs: TorchRun[] = installed ? [...new Set([1, availableParallelism()])].map((t) => ({ t, r: torchRun(spec, t) })) : [];
  const ok = runs.flatMap((x) => ('error' in x.r ? [] : [x.r]));
  const best = (pick: (r: TorchResult) => number | undefined): number | null => {
    const v = ok.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return v.length ? Math.max(...v) : null;
  };
  const describe = () => (installed
    ? `torch: ${ok[0]?.torch ?? 'failed'} (best of ${runs.map((x) => `${x.t} thread${x.t > 1 ? 's' : ''}`).join(', ')}${runs.flatMap((x) => ('error' in x.r ? [`; ${x.t} threads failed: ${x.r.error}`] : [])).join('')})`
    : 'torch: not installed (Debian python3-torch for /usr/bin/python3)');
  /** A figure of the run on `threads` threads, or null. */
  const at = (threads: number, pick: (r: TorchResult) => number | undefined): number | null => {
    const x = runs.find((y) => y.t === threads && !('error' in y.r));
    const v = x ? pick(x.r as TorchResult) : undefined;
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  return { installed, runs, best, at, describe };
}
