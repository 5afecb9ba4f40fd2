// Builds the native addon (native/) with node-gyp from source: run by `npm install`.
// A failed build is not fatal (r1ts then runs on its reference kernels and says
// so once at start-up) unless --strict is given, as `npm run build:native` does.
// Without --strict an addon that is already built for this Node ABI, platform and arch, and
// newer than every source under native/, is kept: the first `npx r1ts` after `npm install`
// runs this script again (npx installs the local package into its cache), and a rebuild there
// cost ~45 s and removed the addon from under any r1ts process running meanwhile.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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

const addon = join(root, 'native', 'build', 'Release', 'r1ts.node');
const stampFile = join(root, 'native', 'build', 'r1ts-build.json');
const stamp = JSON.stringify({ abi: process.versions.modules, platform: process.platform, arch: process.arch });

/** Newest modification time of the addon's sources (native/, without build/). */
function newestSource(dir = join(root, 'native')) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'build') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return t;
}

function upToDate() {
  try {
    return readFileSync(stampFile, 'utf8') === stamp && statSync(addon).mtimeMs >= newestSource();
  } catch {
    return false;
  }
}

if (!strict && upToDate()) {
  console.log('r1ts: the native addon is built and up to date (`npm run build:native` rebuilds it)');
  process.exit(0);
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
writeFileSync(stampFile, stamp);
