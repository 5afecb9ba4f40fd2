// The portable path of the native addon must build on arm64: every native
// source is compiled (not linked) with Debian's aarch64 cross compiler when it
// is installed (.ci/run installs g++-aarch64-linux-gnu); skipped otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const cxx = 'aarch64-linux-gnu-g++';
const have = spawnSync(cxx, ['--version']).status === 0;
const nodeHeaders = ['/usr/include/node', join(process.execPath, '../../include/node')].find((p) => existsSync(join(p, 'node_api.h')));

test('every native source compiles for arm64 (portable path)', { skip: !have ? `${cxx} is not installed` : !nodeHeaders ? 'node headers not found' : false }, () => {
  const out = mkdtempSync(join(tmpdir(), 'r1ts-arm64-'));
  try {
    const sources = ['binding.cc', ...readdirSync(join(root, 'native/common')).filter((f) => f.endsWith('.cc')).map((f) => `common/${f}`),
      ...readdirSync(join(root, 'native/kernels')).filter((f) => f.endsWith('.cc')).map((f) => `kernels/${f}`)];
    const failures: string[] = [];
    for (const src of sources) {
      const r = spawnSync(cxx, ['-std=c++17', '-O0', '-c', '-fopenmp-simd', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', `-I${nodeHeaders}`,
        `-I${join(root, 'node_modules/node-addon-api')}`, `-I${join(root, 'native')}`, join(root, 'native', src), '-o', join(out, src.replace(/\W/g, '_') + '.o')], { encoding: 'utf8' });
      if (r.status !== 0) failures.push(`${src}:\n${r.stderr.slice(0, 2000)}`);
    }
    assert.deepEqual(failures, []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
