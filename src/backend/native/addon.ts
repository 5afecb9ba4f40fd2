// Loads the native addon (native/build/Release/r1ts.node) once. The only file
// in src/ that touches native/; kernel wrappers get functions from here.
// If the addon is missing or fails to load, `addon` is null and `addonError`
// says why; src/tensor then runs on the reference kernels and warns once.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AddonCore {
  cpuInfo(): { level: string; maxLevel: string; levelNumber: number; maxLevelNumber: number };
  setCpuLevel(level: number): number;
  threads(): number;
  setThreads(n: number): number;
}

// Kernel entry points take flat positional arguments; each wrapper file declares its own signature.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AddonFn = (...args: any[]) => any;
export type Addon = AddonCore & { readonly [kernel: string]: AddonFn };

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const addonPath = process.env.R1TS_ADDON ?? join(root, 'native', 'build', 'Release', 'r1ts.node');

function load(): { addon: Addon | null; error: string | null } {
  if (!existsSync(addonPath)) return { addon: null, error: `the native addon was not built (${addonPath} is missing; run \`npm run build:native\`)` };
  try {
    const require = createRequire(import.meta.url);
    return { addon: require(addonPath) as Addon, error: null };
  } catch (e) {
    return { addon: null, error: `the native addon at ${addonPath} failed to load: ${(e as Error).message}` };
  }
}

const loaded = load();
export const addon: Addon | null = loaded.addon;
export const addonError: string | null = loaded.error;

/** The addon's entry point `name`, or null when the addon or that kernel is absent. */
export function addonFn<T extends AddonFn>(name: string): T | null {
  const f = addon?.[name];
  return typeof f === 'function' ? (f as T) : null;
}
