#!/usr/bin/env node
// The r1ts command: registers tsx (TypeScript on the fly) and runs src/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
// Output piped into a reader that stops early (`r1ts inspect x | head`) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
