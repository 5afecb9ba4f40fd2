// Chooses the backend every op runs on: native when the addon loads, else the
// reference kernels with one clear warning. R1TS_BACKEND=ref|native forces one.
// Tests switch backends with useBackend() to run each op on all of them.

import { activeBackend, setActiveBackend } from '../backend/registry.ts';
import type { Backend } from '../backend/kernels.ts';
import { refBackend } from '../backend/ref/index.ts';
import { addonError, cpuLevels, makeNativeBackend, setCpuLevel } from '../backend/native/index.ts';
import { env } from '../core/env.ts';
import { ConfigError } from '../core/errors.ts';

const nativeBackend = makeNativeBackend(refBackend.kernels);

/** The backends usable in this process (ref always; native when the addon loaded). */
export function availableBackends(): Backend[] {
  return nativeBackend ? [nativeBackend, refBackend] : [refBackend];
}

export function useBackend(name: 'ref' | 'native'): Backend {
  const b = name === 'ref' ? refBackend : nativeBackend;
  if (!b) throw new ConfigError(`backend 'native' is not available: ${addonError}`);
  setActiveBackend(b);
  return b;
}

export function currentBackend(): Backend {
  return activeBackend();
}

export { cpuLevels, setCpuLevel };

let warned = false;
function init(): void {
  const want = env.backend();
  if (want === 'ref' || !nativeBackend) {
    setActiveBackend(refBackend);
    if (want === 'native') throw new ConfigError(`R1TS_BACKEND=native but ${addonError}`);
    // asked for by name (R1TS_BACKEND=ref; a browser page, src/core/env-browser.ts): no warning
    if (want !== 'ref' && !nativeBackend && !warned) {
      warned = true;
      process.emitWarning(`r1ts is running on its slow reference kernels: ${addonError}`, { code: 'R1TS_NO_NATIVE' });
    }
    return;
  }
  setActiveBackend(nativeBackend);
  nativeBackend.setThreads(env.threads());
}

init();
