// The portable path of the native addon must build on arm64: every native
// source is checked (full syntax and template instantiation, -fsyntax-only)
// with Debian's aarch64 cross compiler, and the thread pool, which holds the
// only inline assembly, is compiled to an object file. Runs when the cross
// compiler is installed (.ci/run installs g++-aarch64-linux-gnu); skipped otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const cxx = 'aarch64-linux-gnu-g++';
const have = spawnSync(cxx, ['--version']).status === 0;
const nodeHeaders = ['/usr/include/node', join(process.execPath, '../../include/node')].find((p) => existsSync(join(p, 'node_api.h')));

function compile(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(cxx, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => done({ status, stderr }));
  });
}

test('every native source compiles for arm64 (portable path)', { skip: !have ? `${cxx} is not installed` : !nodeHeaders ? 'node headers not found' : false }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'r1ts-arm64-'));
  try {
    const sources = ['binding.cc', ...readdirSync(join(root, 'native/common')).filter((f) => f.endsWith('.cc')).map((f) => `common/${f}`),
      ...readdirSync(join(root, 'native/kernels')).filter((f) => f.endsWith('.cc')).map((f) => `kernels/${f}`)];
    const failures: string[] = [];
    const queue = [...sources];
    const worker = async () => {
      for (let src = queue.shift(); src; src = queue.shift()) {
        const mode = src === 'common/threadpool.cc' ? ['-c', '-o', join(out, 'threadpool.o')] : ['-fsyntax-only'];
        const r = await compile(['-std=c++17', '-O0', ...mode, '-fopenmp-simd', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', `-I${nodeHeaders}`,
          `-I${join(root, 'node_modules/node-addon-api')}`, `-I${join(root, 'native')}`, join(root, 'native', src)]);
        if (r.status !== 0) failures.push(`${src}:\n${r.stderr.slice(0, 2000)}`);
      }
    };
    await Promise.all(Array.from({ length: availableParallelism() }, worker));
    assert.deepEqual(failures, []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
