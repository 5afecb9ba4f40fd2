// The native backend: the C++ addon's kernels behind the Kernels contract.
// Each kernel group has a thin wrapper file here; this file assembles them.
// Every kernel of the contract has a native version (test/backend/native-complete
// checks it); should an addon built from older sources lack one, makeNativeBackend
// fills the gap from the fallback it is given (the reference kernels, passed in
// by src/tensor, since this layer may not import src/backend/ref).

import type { Backend, Kernels } from '../kernels.ts';
import { addon, addonError } from './addon.ts';
import { attentionKernels } from './attention.ts';
import { elementwiseKernels } from './elementwise.ts';
import { lossKernels } from './loss.ts';
import { nnKernels } from './nn.ts';
import { gemmKernels } from './gemm.ts';
import { optimKernels } from './optim.ts';
import { reduceKernels } from './reduce.ts';

export { addonError };

export const nativeKernels: Partial<Kernels> = {
  ...optimKernels,
  ...attentionKernels,
  ...elementwiseKernels,
  ...reduceKernels,
  ...nnKernels,
  ...lossKernels,
  ...gemmKernels,
};

/** Names of the kernels that run natively (the rest come from the fallback). */
export function nativeKernelNames(): string[] {
  return Object.keys(nativeKernels);
}

export function makeNativeBackend(fallback: Kernels): Backend | null {
  if (!addon) return null;
  const a = addon;
  const kernels: Kernels = { ...fallback, ...nativeKernels };
  return {
    name: 'native',
    kernels,
    describe: () => {
      const c = a.cpuInfo();
      return `native (${c.level}${c.level !== c.maxLevel ? `, capped from ${c.maxLevel}` : ''}, ${a.threads()} threads)`;
    },
    threads: () => a.threads(),
    setThreads: (n: number) => {
      a.setThreads(n);
    },
    fmaPeak: (seconds: number) => {
      // An addon built before kernels/peak.cc has no fmaPeak: report "cannot measure".
      if (typeof a.fmaPeak !== 'function') return null;
      const r = a.fmaPeak(seconds) as { flops: number; threads: number; lanes: number; level: string };
      return { flops: r.flops, threads: r.threads, lanes: r.lanes, level: r.level };
    },
  };
}

/** CPU dispatch level control (tests run every level against the reference). */
export function cpuLevels(): { current: number; max: number } {
  if (!addon) return { current: 0, max: 0 };
  const c = addon.cpuInfo();
  return { current: c.levelNumber, max: c.maxLevelNumber };
}

export function setCpuLevel(level: number): number {
  return addon ? addon.setCpuLevel(level) : 0;
}
