// The active backend. src/tensor chooses one at start-up (native when the addon
// loads, else ref) and every op frontend calls kernels through `kernels()`.
// Not here: the choice itself (src/tensor/backends.ts), which may import the
// backends below this folder.

import { R1tsError } from '../core/errors.ts';
import type { Backend, Kernels } from './kernels.ts';

let active: Backend | null = null;

export function setActiveBackend(b: Backend): void {
  active = b;
}

export function activeBackend(): Backend {
  if (active === null) throw new R1tsError('no backend is active: import src/tensor (which selects one) before running ops');
  return active;
}

export function kernels(): Kernels {
  return activeBackend().kernels;
}
