// The import-boundary rule of DESIGN.md, checked: every import in src/ must go
// to a layer the importing folder may use, and only src/backend/native may
// reach native/. The table below is DESIGN.md's layer list (each folder may
// import the folders it names, and, transitively, what those may import).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

const direct: Record<string, string[]> = {
  'core': [],
  'backend': ['core'],
  'backend/ref': ['backend', 'core'],
  'backend/native': ['backend', 'core'],
  'backend/webgpu': ['backend', 'core'], // the WebGPU device kernels: like native, beside ref, reached by tensor (device.ts, device-ops.ts)
  'tensor': ['backend', 'backend/ref', 'backend/native', 'backend/webgpu', 'core'], // tensor → backend/webgpu: a Tensor's storage may be a GpuTensor and the op frontends dispatch the device kernels (issue #12)
  'nn': ['tensor'],
  'optim': ['tensor'],
  'models': ['nn', 'tensor'],
  'tokenizer': ['core'],
  'io': ['models', 'tokenizer', 'core'],
  'rewards': ['core'],
  'tasks': ['rewards', 'core'],
  'engine': ['models', 'tensor'],
  'train': ['engine', 'optim', 'io', 'tasks', 'data', 'eval'], // train → eval: the GRPO loop's periodic held-out evaluation is the eval harness itself (DESIGN.md lists eval after train; eval never imports train),
  'eval': ['engine', 'tasks', 'tokenizer'],
  'server': ['engine', 'tokenizer', 'io'],
  'data': ['tokenizer', 'core'],
  'recipe': ['train', 'eval', 'io', 'tasks', 'engine', 'tokenizer', 'data', 'core'], // recipe → train, eval: the R1 stages (rejection sampling, distillation, the multi-stage pipeline) and the reward service compose SFT/GRPO with the eval sources and the graders; train and eval may not import each other's callers, so the composition sits above both (below cli)
  'cli': ['*'],
};

function allowed(layer: string): Set<string> {
  const out = new Set<string>([layer]);
  const stack = [...(direct[layer] ?? [])];
  while (stack.length) {
    const l = stack.pop()!;
    if (out.has(l)) continue;
    out.add(l);
    stack.push(...(direct[l] ?? []));
  }
  return out;
}

/** The layer of a file under src/: the longest table key that prefixes its folder. */
function layerOf(file: string): string | null {
  const rel = relative(join(root, 'src'), file).split('\\').join('/');
  const dir = dirname(rel);
  let best: string | null = null;
  for (const k of Object.keys(direct)) if ((dir === k || dir.startsWith(k + '/')) && (!best || k.length > best.length)) best = k;
  return best;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (n.endsWith('.ts')) out.push(p);
  }
  return out;
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

test('every src/ folder is a known layer', () => {
  for (const f of walk(join(root, 'src'))) assert.ok(layerOf(f), `${relative(root, f)} is in no layer of DESIGN.md; add the folder to the table in this test and to DESIGN.md`);
});

test('imports respect the layers of DESIGN.md', () => {
  const bad: string[] = [];
  for (const f of walk(join(root, 'src'))) {
    const from = layerOf(f)!;
    const ok = allowed(from);
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const target = resolve(dirname(f), spec);
      if (!target.startsWith(join(root, 'src'))) {
        bad.push(`${relative(root, f)} imports ${spec}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (!to || (!ok.has('*') && !ok.has(to))) bad.push(`${relative(root, f)} (${from}) imports ${spec} (${to}): ${from} may import only ${[...ok].join(', ')}`);
    }
    if (from !== 'backend/native' && /\.node['"]|native\/build/.test(text)) bad.push(`${relative(root, f)} reaches the native addon; only src/backend/native may`);
  }
  assert.deepEqual(bad, []);
});

test('web/: only the in-tab training worker imports the engine from src/ (its view takes types; the run views talk to the server over HTTP only)', () => {
  // web → src: the dashboard's "train in this tab" worker (web/src/tab-worker.ts) bundles the engine (issue #12);
  // its view and their messages (tab.tsx, tab-protocol.ts) take only types from src/, which vanish from the bundle
  const allowedImporters = new Set(['web/src/tab-worker.ts']);
  const typesOnly = new Set(['web/src/tab.tsx', 'web/src/tab-protocol.ts']);
  const bad: string[] = [];
  const files = readdirSync(join(root, 'web/src')).filter((n) => /\.tsx?$/.test(n)).map((n) => join(root, 'web/src', n));
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(f), spec);
      const typeImport = /^\s*import\s+type\s/.test(m[0]);
      if (target.startsWith(join(root, 'src')) && !allowedImporters.has(relative(root, f)) && !(typesOnly.has(relative(root, f)) && typeImport)) bad.push(`${relative(root, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});
