// bench/train-profile.ts — where a training step's time goes: wraps every kernel of
// the active backend with a timer and runs forward + loss + backward + clipping +
// AdamW steps of a preset, then prints time per kernel (GEMMs grouped by shape with
// their GFLOP/s) and the part of the step spent outside kernels (JavaScript, GC,
// allocation). Meant for one thread (--threads 1, the default here), where a kernel's
// process CPU time (getrusage around each call) is the main thread's; an experiment tool, not a benchmark with
// an anchor (bench/train.ts and bench/models.ts are those).
//
//   npx tsx bench/train-profile.ts [--model reference|dense|moe] [--steps N] [--threads N] [--ab] [--json]

import { Rng } from '../src/core/rng.ts';
import { buildModel } from '../src/io/hf.ts';
import { densePreset, moePreset, type ModelConfig } from '../src/models/config.ts';
import { DeepseekV3 } from '../src/models/deepseek-v3.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { clipGradNorm } from '../src/optim/clip.ts';
import * as T from '../src/tensor/index.ts';
import type { GemmParams, Kernels } from '../src/backend/kernels.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const modelName = opt('model', 'reference');
const steps = Number(opt('steps', '6'));
const threads = Number(opt('threads', '1'));
const json = argv.includes('--json');
// --ab: alternate steps with the fused training path on and off (same process), report CPU time per step of each.
const ab = argv.includes('--ab');
T.currentBackend().setThreads(threads);

const configs: Record<string, { config: ModelConfig; batch: number; seq: number }> = {
  reference: { config: densePreset(6, 1024, 128), batch: 32, seq: 128 },
  dense: { config: densePreset(6, 4096, 512), batch: 32, seq: 128 },
  moe: { config: moePreset(6, 4096, 512), batch: 32, seq: 128 },
};
const run = configs[modelName];
if (!run) throw new Error(`--model must be one of ${Object.keys(configs).join(', ')}, got ${modelName}`);

// ---- kernel timers
interface Acc { ms: number; calls: number; flops: number }
const acc = new Map<string, Acc>();
let on = false;
const kernels = T.currentBackend().kernels as unknown as Record<string, (...a: unknown[]) => unknown>;
for (const name of Object.keys(kernels)) {
  const f = kernels[name];
  kernels[name] = (...args: unknown[]) => {
    if (!on) return f(...args);
    let key = name, flops = 0;
    if (name === 'gemm') {
      const p = args[3] as GemmParams;
      key = `gemm ${p.batch}×${p.m}×${p.n}×${p.k}${p.transA ? ' tA' : ''}${p.transB ? ' tB' : ''}${p.beta ? ' β' : ''}`;
      flops = 2 * p.batch * p.m * p.n * p.k;
    } else if (name === 'unary' || name === 'binary') key = `${name} ${args[0] as string}`;
    const c0 = process.cpuUsage();
    const r = f(...args);
    const c1 = process.cpuUsage();
    const dt = (c1.user + c1.system - c0.user - c0.system) / 1000;
    const a = acc.get(key) ?? { ms: 0, calls: 0, flops: 0 };
    a.ms += dt;
    a.calls++;
    a.flops += flops;
    acc.set(key, a);
    return r;
  };
}
void (kernels as unknown as Kernels);

const model = buildModel(run.config, new Rng(0));
const optim = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.1 });
const rng = new Rng(7);
const V = run.config.vocab_size;
const idsT = T.ids(Int32Array.from({ length: run.batch * run.seq }, () => rng.int(V)), [run.batch, run.seq]);
const tg = T.ids(Int32Array.from({ length: run.batch * run.seq }, () => rng.int(V)), [run.batch, run.seq]);

const phase = { forward: 0, backward: 0, optim: 0 };
const cpu: number[] = [];
const wall: number[] = [];
const abCpu: Record<string, number[]> = { fused: [], plain: [] };
for (let s = 0; s < steps + 2; s++) {
  on = s >= 2;
  if (ab) T.setFusedTraining(s % 2 === 0);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  optim.zeroGrad();
  const { loss } = model.loss(idsT, tg);
  const t1 = performance.now();
  loss.backward();
  const t2 = performance.now();
  clipGradNorm(model.parameters(), 1);
  optim.step();
  if (model instanceof DeepseekV3) model.updateRouterBiases();
  const t3 = performance.now();
  const c1 = process.cpuUsage();
  if (on) {
    phase.forward += t1 - t0;
    phase.backward += t2 - t1;
    phase.optim += t3 - t2;
    cpu.push((c1.user + c1.system - c0.user - c0.system) / 1000);
    if (ab) abCpu[T.fusedTraining() ? 'fused' : 'plain'].push(cpu[cpu.length - 1]);
    wall.push(t3 - t0);
  }
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const min = (v: number[]) => Math.min(...v);
const kernelMs = [...acc.values()].reduce((s, a) => s + a.ms, 0) / steps;
const wallMs = wall.reduce((a, b) => a + b, 0) / steps;
const cpuMs = cpu.reduce((a, b) => a + b, 0) / steps;
const rows = [...acc.entries()].map(([k, a]) => ({ kernel: k, ms: a.ms / steps, calls: a.calls / steps, gflops: a.flops ? a.flops / (a.ms / 1000) / 1e9 : null }))
  .sort((a, b) => b.ms - a.ms);
const groups = new Map<string, number>();
for (const r of rows) {
  const g = r.kernel.startsWith('gemm') ? 'gemm' : r.kernel;
  groups.set(g, (groups.get(g) ?? 0) + r.ms);
}
const tokens = run.batch * run.seq;
console.log(`${modelName}: ${(model.numParameters() / 1e6).toFixed(2)}M params, B×T ${run.batch}×${run.seq}, ${T.currentBackend().describe()}, ${steps} steps`);
console.log(`step: wall mean ${wallMs.toFixed(1)} ms (min ${min(wall).toFixed(1)}), CPU median ${med(cpu).toFixed(1)} ms (min ${min(cpu).toFixed(1)}) → ${(tokens / (min(cpu) / 1000)).toFixed(0)} tok per CPU s`);
if (ab) for (const [k, v] of Object.entries(abCpu)) console.log(`A/B ${k}: CPU ms/step min ${min(v).toFixed(1)} median ${med(v).toFixed(1)} (${v.map((x) => x.toFixed(0)).join(' ')})`);
console.log(`phases (wall, per step): forward ${(phase.forward / steps).toFixed(1)}, backward ${(phase.backward / steps).toFixed(1)}, clip+adamw ${(phase.optim / steps).toFixed(1)} ms`);
console.log(`in kernels (CPU) ${kernelMs.toFixed(1)} ms/step; outside kernels (JS, GC, allocation) ${(cpuMs - kernelMs).toFixed(1)} ms/step (CPU time, mean step ${cpuMs.toFixed(1)})`);
console.log('\nby kernel kind (ms/step):');
for (const [g, ms] of [...groups.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${g.padEnd(22)} ${ms.toFixed(1).padStart(8)}  ${((100 * ms) / cpuMs).toFixed(1).padStart(5)}%`);
console.log('\nby kernel / GEMM shape (ms/step, calls/step, GFLOP/s):');
for (const r of rows.slice(0, 40)) console.log(`  ${r.kernel.padEnd(40)} ${r.ms.toFixed(2).padStart(8)} ${r.calls.toFixed(0).padStart(5)}  ${r.gflops === null ? '' : r.gflops.toFixed(0)}`);
if (json) console.log(JSON.stringify({ model: modelName, wall_ms: wallMs, cpu_ms_median: med(cpu), cpu_ms_min: min(cpu), kernel_ms: kernelMs, kinds: Object.fromEntries(groups) }));
