// WebGPU GEMM benchmark: GFLOP/s of the tiled WGSL GEMM on the available adapter, beside the
// native CPU backend's GEMM on the same sizes in the same run (ratio = webgpu / native).
//   npm run bench:webgpu            human table
//   npm run bench:webgpu -- --json  the same, plus one JSON object as the last stdout line
//   options: --sizes=256,512,1024 (square m = n = k), --seconds=S (timing window per size, default 1)
// GPU timing: a warm-up dispatch, then batches of dispatches recorded back to back and timed
// from record to the completion of one submit (queue.onSubmittedWorkDone), best of the batches;
// no readback inside the timing. CPU timing: best of repeated calls after a warm-up, all threads.
// On a software adapter (llvmpipe etc.) the figure is a CPU rasterizer's, not a GPU's, and the
// output says so. Not here: correctness (test/backend/webgpu-*.test.ts).

import { performance } from 'node:perf_hooks';
import type { GemmParams } from '../src/backend/kernels.ts';
import { GpuContext } from '../src/backend/webgpu/device.ts';
import { gemm } from '../src/backend/webgpu/gemm.ts';
import { availableBackends } from '../src/tensor/backends.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const sizesArg = args.find((a) => a.startsWith('--sizes='));
const secondsArg = args.find((a) => a.startsWith('--seconds='));
const seconds = secondsArg ? Number(secondsArg.slice('--seconds='.length)) : 1;

const ctx = await GpuContext.open();
const a = ctx.adapter;
const sizes = sizesArg ? sizesArg.slice('--sizes='.length).split(',').map(Number) : a.software ? [128, 256, 512] : [512, 1024, 2048, 4096];
for (const s of sizes) if (!Number.isInteger(s) || s <= 0) throw new Error(`--sizes: ${s} is not a positive integer`);
const native = availableBackends().find((b) => b.name === 'native') ?? null;

function params(n: number): GemmParams {
  return { batch: 1, m: n, n, k: n, transA: false, transB: false, alpha: 1, beta: 0, strideA: n * n, strideB: n * n, strideC: n * n, bias: null };
}

async function gpuGflops(n: number): Promise<number> {
  const A = new Float32Array(n * n).map(() => Math.random() - 0.5); // [n, n]
  const ga = ctx.upload(A), gb = ctx.upload(A), gc = ctx.alloc([n, n]);
  const p = params(n);
  gemm(ctx, ga, gb, gc, { ...p, bias: null });
  await ctx.sync(); // warm-up: compiles the pipeline
  const flop = 2 * n * n * n;
  let reps = 1, best = Infinity;
  const end = performance.now() + seconds * 1000;
  do {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) gemm(ctx, ga, gb, gc, { ...p, bias: null });
    await ctx.sync();
    const dt = (performance.now() - t0) / 1000 / reps;
    best = Math.min(best, dt);
    if (dt * reps < 0.05) reps *= 2;
  } while (performance.now() < end);
  for (const t of [ga, gb, gc]) ctx.release(t);
  return flop / best / 1e9;
}

function cpuGflops(n: number): number | null {
  if (!native) return null;
  const A = new Float32Array(n * n).map(() => Math.random() - 0.5); // [n, n]
  const C = new Float32Array(n * n); // [n, n]
  const p = params(n);
  native.kernels.gemm(A, A, C, p);
  let best = Infinity;
  const end = performance.now() + seconds * 1000;
  do {
    const t0 = performance.now();
    native.kernels.gemm(A, A, C, p);
    best = Math.min(best, (performance.now() - t0) / 1000);
  } while (performance.now() < end);
  return (2 * n * n * n) / best / 1e9;
}

const label = `${[a.vendor, a.device, a.description].filter((s) => s).join(" · ")} [${a.backend}/${a.featureLevel}]${a.software ? ' — SOFTWARE adapter (runs on the CPU; not a GPU figure)' : ''}`;
console.log(`adapter: ${label}`);
console.log(`native: ${native ? native.describe() : 'not built'}`);
console.log('size      webgpu GFLOP/s   native GFLOP/s   ratio');
const rows: { n: number; webgpu: number; native: number | null; ratio: number | null }[] = [];
for (const n of sizes) {
  const g = await gpuGflops(n);
  const c = cpuGflops(n);
  const ratio = c ? g / c : null;
  rows.push({ n, webgpu: +g.toFixed(2), native: c === null ? null : +c.toFixed(2), ratio: ratio === null ? null : +ratio.toFixed(3) });
  console.log(`${String(n).padEnd(9)} ${g.toFixed(2).padStart(14)}   ${(c === null ? '-' : c.toFixed(2)).padStart(14)}   ${ratio === null ? '-' : ratio.toFixed(2)}`);
}
ctx.destroy();
if (json) {
  console.log(JSON.stringify({
    bench: 'webgpu', adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, backend: a.backend, featureLevel: a.featureLevel },
    software: a.software, native: native ? native.describe() : null, gemm: rows,
  }));
}
