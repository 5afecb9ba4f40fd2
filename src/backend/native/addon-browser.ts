// The browser's answer for the native addon: there is none. The web build
// (scripts/build-web.mjs) bundles this file in addon.ts's place, so a page never
// imports node:fs/node:module; every wrapper's addonFn() is null and src/tensor runs
// the reference kernels (src/core/env-browser.ts selects them). Node never loads it.
// Not here: loading the addon (addon.ts).

import type { Addon } from './addon.ts';

export type { Addon, AddonCore } from './addon.ts';

export const addon: Addon | null = null;
export const addonError: string | null = 'a browser page has no native addon (the reference kernels run the host ops)';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function addonFn<T extends (...args: any[]) => any>(_name: string): T | null {
  return null;
}
