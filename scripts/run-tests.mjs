// Runs every test file under test/ with node's test runner through tsx.
// Node 20 ignores directory arguments to --test, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring ...]  (only files whose path contains one)
// Files run two at a time at least: node's default, one fewer than the cores, runs them one by
// one on a 2-core machine, where most files leave a core idle (a CLI child process starting, a
// server waiting on a socket, a single-threaded test): two at a time took the suite from 9.5 to
// 7.4 minutes there, and on larger machines node already runs cores - 1. R1TS_TEST_CONCURRENCY=N
// sets it (1: one by one). The flag is Node >= 20.10's; older 20.x run one by one.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}
const [major, minor] = process.versions.node.split('.').map(Number);
const env = process.env.R1TS_TEST_CONCURRENCY;
if (env !== undefined && !/^[1-9]\d*$/.test(env)) {
  console.error(`R1TS_TEST_CONCURRENCY=${env}: expected a whole number of test files at a time, 1 or more`);
  process.exit(2);
}
const concurrency = env !== undefined ? Number(env) : Math.max(2, availableParallelism() - 1);
const flags = major > 20 || (major === 20 && minor >= 10) ? [`--test-concurrency=${concurrency}`] : [];
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...flags, '--test-reporter=spec', ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
