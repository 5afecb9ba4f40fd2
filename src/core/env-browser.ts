// The browser's env flags: what src/core/env.ts gives a Node process, for a page with no
// process.env and no node:os. The web build (scripts/build-web.mjs) bundles this file in
// env.ts's place; Node never loads it. A page cannot be configured by environment
// variables, so every flag is its default except R1TS_BACKEND, which is 'ref': the pure-TS
// reference kernels run the host ops (a browser has no native addon), and the tensor
// engine then selects them without the "no addon" warning of a Node process.
// Typed as env.ts's object, so a flag added there and missing here fails the typecheck.
// Not here: the flags' meanings (env.ts).

import type { env as nodeEnv } from './env.ts';

export const env: typeof nodeEnv = {
  threads: () => 1,
  backend: () => 'ref',
  checkNan: () => false,
  cpu: () => undefined,
  fused: () => true,
  poolMb: () => 1024,
};
