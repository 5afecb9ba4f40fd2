// Builds the native addon (native/) with node-gyp from source: run by `npm install`.
// A failed build is not fatal (r1ts then runs on its reference kernels and says
// so once at start-up) unless --strict is given, as `npm run build:native` does.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function nodeGyp() {
  // npm sets npm_config_node_gyp inside lifecycle scripts; otherwise use the copy bundled with npm.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

const [cmd, ...pre] = nodeGyp();
const args = [...pre, 'rebuild', '--jobs', 'max', '--directory', join(root, 'native')];
console.log(`r1ts: building the native addon (${args.slice(pre.length).join(' ')})`);
const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  const why = r.error ? r.error.message : `node-gyp exited with ${r.status}`;
  console.warn(`\nr1ts: WARNING: the native addon could not be built (${why}).\n` +
    'r1ts will still work, on its pure-TypeScript reference kernels, which are far slower.\n' +
    'To get the fast kernels: install python3, make and a C++17 compiler, then run `npm run build:native`.');
  process.exit(strict ? 1 : 0);
}
