// Environment flags read by r1ts, in one place, validated once.
//   R1TS_THREADS    native thread count (default: all cores)
//   R1TS_BACKEND    'native' | 'ref' (default: native when the addon loads)
//   R1TS_CHECK_NAN  '1' makes every op check its output for NaN/Inf
//   R1TS_CPU        'avx512' | 'avx2' | 'portable': cap the native CPU dispatch level
//   R1TS_FUSED      '0' turns off the fused training ops (src/tensor/fused.ts), for A/B runs
//   R1TS_POOL_MB    cap of the recycled f32 buffer pool (op outputs, fused ops' activations) in MB (default 1024)

import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.ts';

function intFlag(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new ConfigError(`${name}=${raw}: expected an integer >= ${min}`);
  return v;
}

function choiceFlag<T extends string>(name: string, choices: readonly T[]): T | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!(choices as readonly string[]).includes(raw)) throw new ConfigError(`${name}=${raw}: expected one of ${choices.join(', ')}`);
  return raw as T;
}

export const env = {
  threads: (): number => intFlag('R1TS_THREADS', availableParallelism(), 1),
  backend: (): 'native' | 'ref' | undefined => choiceFlag('R1TS_BACKEND', ['native', 'ref'] as const),
  checkNan: (): boolean => process.env.R1TS_CHECK_NAN === '1',
  cpu: (): 'avx512' | 'avx2' | 'portable' | undefined => choiceFlag('R1TS_CPU', ['avx512', 'avx2', 'portable'] as const),
  fused: (): boolean => choiceFlag('R1TS_FUSED', ['0', '1'] as const) !== '0',
  poolMb: (): number => intFlag('R1TS_POOL_MB', 1024, 0),
};
