// WebGPU benchmark: GFLOP/s of the tiled WGSL GEMM on the available adapter, beside the
// native CPU backend's GEMM on the same sizes in the same run (ratio = webgpu / native); causal
// attention forward and backward GFLOP/s at a training shape, the device's tiled kernels beside
// the native ones, at each head dim of --attn-dim (a list; on a GPU 64 and 128, the R1 distill
// models' head dim, where a lane holds 64 vec4s of q and accumulators: the figure says whether
// that costs; --attn-batch=B --attn-seq=T --attn-heads=H --attn-dim=D[,D…]; --no-attention skips
// it); and training tokens/s of a small dense preset (the tensor engine on the device: forward,
// backward, global-norm clipping, AdamW, one loss readback per step) beside the same step
// on the CPU backend (--train-depth=D --train-batch=B --train-seq=T --train-vocab=V; --no-train
// skips it); the same GEMM with f16 B (binary16 weights, packF16: unpack2x16float, or array<f16>
// on a shader-f16 device); and decode tokens/s of the generation engine on the device beside the
// CPU engine (its fast host decode path) on the same preset: --decode-batch=B sequences of an
// 8-token prompt, --decode-tokens=N greedy tokens each, after a warm-up run (--no-decode skips it);
// and the same decode with f16 weights on the device (`--dtype f16`: every Linear's weight packed
// to binary16, read by the f16-B GEMM), beside the f32 one (ratio_f16 = f16 / f32); and training
// tokens/s of the MoE preset (DeepSeek-V3 style: MLA, 8 routed experts (--moe-experts=E), 2 per
// token, a shared one; the router's bias update included) on the device with the sparse grouped
// dispatch (each expert GEMM one dispatch for all experts), the sparse per-expert one and the
// dense one (every expert over every token), with each step's dispatch count, beside the CPU
// (--no-moe skips it). The device
// decode samples on the device (reading back a token and its logprob per sequence); it is also
// timed reading back the logits rows and sampling on the host (ratio_device_sampling), and both
// ways with 5 top logprobs per token (ratio_device_top_logprobs: computed on the device against
// computed on the host from the logits rows), and, at gemv_batch = min(batch, 8) sequences (the
// most the skinny GEMM takes), with the skinny GEMM and with it off (setGemv(false): every decode
// product on the 64×64 tile; ratio_gemv = with / without). And nucleus sampling of flat rows of a
// large vocabulary (--nucleus-vocab=V, default Qwen2's 151,936; --nucleus-batch=B rows;
// normal(0, 0.5) logits, T = 1, top-p 0.95: tens of thousands of candidates, past the 1,024 the
// device sorts): rows.ts sampleRows on the device (searching the sorted order) and reading back
// (token, logprob), beside reading the rows back and sampling them on the host (sampleToken),
// best of 3 after a warm-up (--no-nucleus skips it). The dense training figure comes with the
// host's share of the best device step: its dispatches, and the ms from the step's start to its
// last submit (the host recording the step: the tensor engine's and autograd's work and each
// dispatch's; record_us_per_dispatch), beside the whole step's. Where recording is most of the
// step, the GPU waits on the host. And the same step on Dawn's null backend (recorded, validated
// and submitted, nothing executed): the host's time alone (null_host_step_ms), and the CPU
// backend's step time over it (host_bound_ceiling: the most any GPU could gain over the CPU on
// this host with this engine; the issue's target is 10). And the device step submitted every 32
// dispatches (GpuContext.setAutoFlush: the GPU starts on the step while the host records the
// rest; webgpu_autoflush, ratio_autoflush = over the one-submit step).
//   npm run bench:webgpu            human table
//   npm run bench:webgpu -- --json  the same, plus one JSON object as the last stdout line
//   options: --sizes=256,512,1024 (square m = n = k), --seconds=S (timing window per size, default 1),
//   --peak-gflops=G (the adapter's fp32 peak, from its datasheet: adds each GEMM's share of it).
// The f32 GEMM is timed with both workgroup tiles (64×64, the default, and 128×128: setGemmTile),
// so one run on a GPU says which to make the default there; the share of peak is the default's.
// --gemm-tile=128 runs the training and decode sections with the 128 tile.
// GPU timing: a warm-up dispatch, then batches of dispatches recorded back to back and timed
// from record to the completion of one submit (queue.onSubmittedWorkDone), best of the batches;
// no readback inside the timing. CPU timing: best of repeated calls after a warm-up, all threads.
// On a software adapter (llvmpipe etc.) the figure is a CPU rasterizer's, not a GPU's, and the
// output says so. Not here: correctness (test/backend/webgpu-*.test.ts).

import { performance } from 'node:perf_hooks';
import type { GemmParams } from '../src/backend/kernels.ts';
import { GpuContext } from '../src/backend/webgpu/device.ts';
import { deviceHasF16, gemm, gemmTile, GEMV_MAX_ROWS, packF16, setGemmTile, setGemv, type GemmTile } from '../src/backend/webgpu/gemm.ts';
import { SAMPLE_PARAMS, SAMPLE_SORTED, sampleRows } from '../src/backend/webgpu/rows.ts';
import { attention as gpuAttention, attentionBackward as gpuAttentionBackward } from '../src/backend/webgpu/attention.ts';
import { sampleToken } from '../src/engine/sampling.ts';
import { Engine } from '../src/engine/generate.ts';
import { availableBackends } from '../src/tensor/backends.ts';
import { Rng } from '../src/core/rng.ts';
import { buildModel } from '../src/io/hf.ts';
import { densePreset, moePreset } from '../src/models/config.ts';
import type { DeepseekV3 } from '../src/models/deepseek-v3.ts';
import { setMoeDispatch, type MoeDispatch } from '../src/nn/moe.ts';
import { balanceRouterOnDevice } from '../src/train/expert-load.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { clipGradNorm, clipGradNormTensor } from '../src/optim/clip.ts';
import { linearWeights } from '../src/nn/layers.ts';
import { endDeviceStep, ids, moveToDevice, moveToHost, placeOnDevice, readValues, releaseDevice, useDeviceContext } from '../src/tensor/index.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const secondsArg = args.find((a) => a.startsWith('--seconds='));
const seconds = secondsArg ? Number(secondsArg.slice('--seconds='.length)) : 1;
if (!(seconds > 0)) throw new Error(`--seconds: ${secondsArg} is not a positive number`);

const ctx = await GpuContext.open();
const tileArg = args.find((x) => x.startsWith('--gemm-tile='));
if (tileArg) {
  const tile = Number(tileArg.slice('--gemm-tile='.length));
  if (tile !== 64 && tile !== 128) throw new Error(`--gemm-tile: ${tileArg}, expected 64 or 128`);
  setGemmTile(tile);
}
const a = ctx.adapter;
// Every section's shape flags, read before any work, so a bad one is said at once.
const num = (name: string, dflt: number) => nums(name, [dflt], false)[0];
/** A flag's positive integer (list false) or comma-separated positive integers (--name=a,b,…), or dflt without it. */
function nums(name: string, dflt: number[], list = true): number[] {
  const v = args.find((x) => x.startsWith(`--${name}=`));
  if (!v) return dflt;
  const parts = v.slice(name.length + 3).split(',');
  const ns = parts.map(Number);
  if ((!list && parts.length > 1) || ns.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`--${name}: ${v} is not a positive integer${list ? ' or a comma-separated list of them' : ''}`);
  }
  return ns;
}
const sizes = nums('sizes', a.software ? [128, 256, 512] : [512, 1024, 2048, 4096]);
const native = availableBackends().find((b) => b.name === 'native') ?? null;
/** Causal attention's shape; the head dims are a list (each timed). */
const ac = { batch: num('attn-batch', a.software ? 2 : 4), seq: num('attn-seq', a.software ? 256 : 2048), heads: num('attn-heads', a.software ? 4 : 16) };
const attnDims = nums('attn-dim', a.software ? [32] : [64, 128]);
/** The dense training preset. */
const tc = { depth: num('train-depth', 2), batch: num('train-batch', a.software ? 4 : 16), seq: num('train-seq', a.software ? 64 : 256), vocab: num('train-vocab', a.software ? 512 : 4096) };
/** Routed experts of the MoE preset (--moe-experts, default the preset's 8; 2 per token either way). */
const moeExperts = num('moe-experts', 8);
/** Decode: sequences and greedy tokens each. */
const dc = { batch: num('decode-batch', a.software ? 4 : 32), tokens: num('decode-tokens', a.software ? 16 : 64) };
/** Nucleus sampling's rows. */
const nc = { vocab: num('nucleus-vocab', 151936), batch: num('nucleus-batch', a.software ? 4 : 32) };

function params(n: number): GemmParams {
  return { batch: 1, m: n, n, k: n, transA: false, transB: false, alpha: 1, beta: 0, strideA: n * n, strideB: n * n, strideC: n * n, bias: null };
}

async function gpuGflops(n: number, half = false, tile: GemmTile = 64): Promise<number> {
  const before = gemmTile();
  setGemmTile(tile);
  const A = new Float32Array(n * n).map(() => Math.random() - 0.5); // [n, n]
  const ga = ctx.upload(A), gc = ctx.alloc([n, n]);
  let gb = ctx.upload(A);
  if (half) {
    const packed = ctx.alloc([Math.ceil((n * n) / 2)], 'u32'); // [n·n/2] binary16 pairs
    packF16(ctx, gb, packed, n * n);
    ctx.release(gb);
    gb = packed;
  }
  const p = { ...params(n), bHalf: half };
  const best = await deviceSeconds(() => gemm(ctx, ga, gb, gc, { ...p, bias: null }));
  for (const t of [ga, gb, gc]) ctx.release(t);
  setGemmTile(before);
  return (2 * n * n * n) / best / 1e9;
}

function cpuGflops(n: number): number | null {
  if (!native) return null;
  const A = new Float32Array(n * n).map(() => Math.random() - 0.5); // [n, n]
  const C = new Float32Array(n * n); // [n, n]
  const p = params(n);
  return (2 * n * n * n) / hostSeconds(() => native.kernels.gemm(A, A, C, p)) / 1e9;
}

/** Best seconds per call of fn on the device (work recorded back to back, timed to the completion of one submit) after a warm-up call. */
async function deviceSeconds(fn: () => void): Promise<number> {
  fn();
  await ctx.sync(); // warm-up: compiles the pipelines
  let reps = 1, best = Infinity;
  const end = performance.now() + seconds * 1000;
  do {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await ctx.sync();
    const dt = (performance.now() - t0) / 1000 / reps;
    best = Math.min(best, dt);
    if (dt * reps < 0.05) reps *= 2;
  } while (performance.now() < end);
  return best;
}

/** Best seconds per call of fn on the host after a warm-up call. */
function hostSeconds(fn: () => void): number {
  fn();
  let best = Infinity;
  const end = performance.now() + seconds * 1000;
  do {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  } while (performance.now() < end);
  return best;
}

const label = `${[a.vendor, a.device, a.description].filter((s) => s).join(" · ")} [${a.backend}/${a.featureLevel}]${a.software ? ' — SOFTWARE adapter (runs on the CPU; not a GPU figure)' : ''}`;
console.log(`adapter: ${label}${a.subgroups ? ' (offers subgroups)' : ''}`);
console.log(`native: ${native ? native.describe() : 'not built'}`);
const f16B = deviceHasF16(ctx);
console.log(`f16 B: ${f16B ? 'array<f16> (shader-f16)' : 'packed, unpack2x16float (no shader-f16 on this device)'}`);
const peakArg = args.find((x) => x.startsWith('--peak-gflops='));
const peak = peakArg ? Number(peakArg.slice('--peak-gflops='.length)) : null;
if (peak !== null && !(peak > 0)) throw new Error(`--peak-gflops: ${peakArg} is not a positive number`);
console.log(`size      webgpu GFLOP/s   tile 128 GFLOP/s   f16-B GFLOP/s   native GFLOP/s   ratio${peak ? `   share of the ${peak} GFLOP/s peak` : ''}`);
const rows: { n: number; webgpu: number; webgpu_tile128: number; webgpuF16B: number; native: number | null; ratio: number | null; share_of_peak?: number }[] = [];
for (const n of sizes) {
  const g = await gpuGflops(n);
  const g128 = await gpuGflops(n, false, 128);
  const h = await gpuGflops(n, true);
  const c = cpuGflops(n);
  const ratio = c ? g / c : null;
  rows.push({ n, webgpu: +g.toFixed(2), webgpu_tile128: +g128.toFixed(2), webgpuF16B: +h.toFixed(2), native: c === null ? null : +c.toFixed(2), ratio: ratio === null ? null : +ratio.toFixed(3), ...(peak ? { share_of_peak: +(g / peak).toFixed(4) } : {}) });
  console.log(`${String(n).padEnd(9)} ${g.toFixed(2).padStart(14)}   ${g128.toFixed(2).padStart(16)}   ${h.toFixed(2).padStart(13)}   ${(c === null ? '-' : c.toFixed(2)).padStart(14)}   ${(ratio === null ? '-' : ratio.toFixed(2)).padEnd(5)}${peak ? `   ${((100 * g) / peak).toFixed(1)}%` : ''}`);
}

// Causal self-attention at a training shape: the device's kernels (the tiled ones: attention.ts)
// beside the native CPU backend's, forward and backward, GFLOP/s counted as FlashAttention does:
// 4·D per visible (query, key) pair forward (q·k and p·v), 10·D backward (q·k again, dout·v, and
// the three gradient products). Once per head dim of --attn-dim.
const attentionFigs: { shape: typeof ac & { dim: number }; webgpu_fwd_gflops: number; webgpu_bwd_gflops: number; native_fwd_gflops: number | null; native_bwd_gflops: number | null; ratio_fwd: number | null; ratio_bwd: number | null }[] = [];
for (const D of args.includes('--no-attention') ? [] : attnDims) {
  const { batch: B, seq: T, heads: H } = ac;
  const p = { B, Tq: T, Tk: T, Hq: H, Hkv: H, D, Dv: D, scale: 1 / Math.sqrt(D), causal: true, qOffset: 0, qOffsets: null, kvLens: null };
  const n = B * T * H * D;
  const host = () => new Float32Array(n).map(() => Math.random() - 0.5); // [B, T, H, D]
  const [q, k, v, dout] = [host(), host(), host(), host()];
  const out = new Float32Array(n), lse = new Float32Array(B * H * T), dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
  const [gq, gk, gv, gdo] = [q, k, v, dout].map((x) => ctx.upload(x));
  const [gout, gdq, gdk, gdv] = [0, 1, 2, 3].map(() => ctx.alloc([n]));
  const glse = ctx.alloc([B * H * T]);
  const pairs = (B * H * T * (T + 1)) / 2;
  const fwdS = await deviceSeconds(() => gpuAttention(ctx, gq, gk, gv, gout, glse, p));
  const bwdS = await deviceSeconds(() => gpuAttentionBackward(ctx, gq, gk, gv, gout, glse, gdo, gdq, gdk, gdv, p));
  for (const t of [gq, gk, gv, gdo, gout, gdq, gdk, gdv, glse]) ctx.release(t);
  const cpuP = { ...p, qOffsets: null, kvLens: null };
  const nf = native ? hostSeconds(() => native.kernels.attention(q, k, v, out, lse, cpuP)) : null;
  const nb = native ? hostSeconds(() => native.kernels.attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, cpuP)) : null;
  const gf = (4 * D * pairs) / fwdS / 1e9, gb = (10 * D * pairs) / bwdS / 1e9;
  const cf = nf === null ? null : (4 * D * pairs) / nf / 1e9, cb = nb === null ? null : (10 * D * pairs) / nb / 1e9;
  const fig = {
    shape: { ...ac, dim: D }, webgpu_fwd_gflops: +gf.toFixed(2), webgpu_bwd_gflops: +gb.toFixed(2), native_fwd_gflops: cf === null ? null : +cf.toFixed(2), native_bwd_gflops: cb === null ? null : +cb.toFixed(2),
    ratio_fwd: cf === null ? null : +(gf / cf).toFixed(3), ratio_bwd: cb === null ? null : +(gb / cb).toFixed(3),
  };
  attentionFigs.push(fig);
  console.log(`\ncausal attention, B ${B} × T ${T} × ${H} heads × D ${D}${a.software ? ' (SOFTWARE adapter)' : ''}:`);
  console.log(`  forward   webgpu ${gf.toFixed(2)} GFLOP/s (${(fwdS * 1000).toFixed(2)} ms)   native ${cf === null ? '-' : `${cf.toFixed(2)} GFLOP/s (${(nf! * 1000).toFixed(2)} ms)`}   ratio ${fig.ratio_fwd ?? '-'}`);
  console.log(`  backward  webgpu ${gb.toFixed(2)} GFLOP/s (${(bwdS * 1000).toFixed(2)} ms)   native ${cb === null ? '-' : `${cb.toFixed(2)} GFLOP/s (${(nb! * 1000).toFixed(2)} ms)`}   ratio ${fig.ratio_bwd ?? '-'}`);
}

/** Dispatches of the last timed training step on the device (how the step is bound on a GPU). */
let lastStepDispatches = 0;
/** Of the best device step: ms from its start to its last submit (the host recording it), and in all. */
let bestStepHost = { recordMs: 0, stepMs: 0 };
/** When the device context last submitted work (flush with a batch open): the end of a step's recording. */
let lastSubmitAt = 0;
{
  const flush = ctx.flush.bind(ctx);
  ctx.flush = () => {
    const before = ctx.stats.submits;
    const t = performance.now();
    flush();
    if (ctx.stats.submits !== before) lastSubmitAt = t;
  };
}

/** Training tokens/s of the dense (or MoE) preset on the device or the CPU backend: best step time over about `seconds` after a warm-up step. */
async function trainTokensPerSecond(device: 'webgpu' | 'cpu', preset: 'dense' | 'moe' = 'dense'): Promise<number> {
  const model = buildModel(preset === 'dense' ? densePreset(tc.depth, tc.vocab, tc.seq) : { ...moePreset(tc.depth, tc.vocab, tc.seq), n_routed_experts: moeExperts }, new Rng(0));
  const moe = preset === 'moe' ? (model as DeepseekV3) : null;
  const params = model.parameters();
  if (device === 'webgpu') moveToDevice(model.namedTensors().map(([, t]) => t));
  const opt = new AdamW(params, { lr: 1e-3 });
  const r = new Rng(1);
  const rows = () => ids(Array.from({ length: tc.batch * tc.seq }, () => r.int(tc.vocab)), [tc.batch, tc.seq]); // [B, T]
  const x = rows(), y = rows();
  const step = async () => {
    opt.zeroGrad();
    const { loss } = model.loss(x, y);
    loss.backward();
    if (device === 'webgpu') {
      const norm = clipGradNormTensor(params, 1);
      opt.step();
      if (moe) await balanceRouterOnDevice(moe, [loss, norm]);
      else await readValues([loss, norm]);
      endDeviceStep();
    } else {
      loss.item();
      clipGradNorm(params, 1);
      opt.step();
      moe?.updateRouterBiases();
    }
  };
  await step(); // warm-up: compiles the pipelines, fills the pools
  let best = Infinity, n = 0;
  const end = performance.now() + seconds * 1000;
  do {
    const t0 = performance.now();
    const d0 = ctx.stats.dispatches;
    await step();
    const t1 = performance.now();
    lastStepDispatches = ctx.stats.dispatches - d0;
    if ((t1 - t0) / 1000 < best) {
      best = (t1 - t0) / 1000;
      bestStepHost = { recordMs: lastSubmitAt - t0, stepMs: t1 - t0 };
    }
    n++;
  } while (performance.now() < end || n < 2);
  if (device === 'webgpu') releaseDevice(model.namedTensors().map(([, t]) => t));
  return (tc.batch * tc.seq) / best;
}

/**
 * The host's time for one dense training step on Dawn's null backend (everything recorded,
 * validated and submitted; nothing executed): the least a step can take on any GPU, since the
 * step is recorded before it is submitted. Best step over about `seconds` after a warm-up; null
 * where the null backend cannot be opened.
 */
async function nullHostStepMs(): Promise<number | null> {
  let nullCtx: GpuContext;
  try {
    nullCtx = await GpuContext.open({ backend: 'null' });
  } catch {
    return null;
  }
  useDeviceContext(nullCtx);
  try {
    const model = buildModel(densePreset(tc.depth, tc.vocab, tc.seq), new Rng(0));
    const params = model.parameters();
    moveToDevice(model.namedTensors().map(([, t]) => t));
    const opt = new AdamW(params, { lr: 1e-3 });
    const r = new Rng(1);
    const rows = () => ids(Array.from({ length: tc.batch * tc.seq }, () => r.int(tc.vocab)), [tc.batch, tc.seq]);
    const x = rows(), y = rows();
    // As the device step above, but waiting for the submit instead of reading values (the null backend's reads are garbage).
    const step = async () => {
      opt.zeroGrad();
      const { loss } = model.loss(x, y);
      loss.backward();
      clipGradNormTensor(params, 1);
      opt.step();
      await nullCtx.sync();
      endDeviceStep();
    };
    await step();
    let best = Infinity, n = 0;
    const end = performance.now() + seconds * 1000;
    do {
      const t0 = performance.now();
      await step();
      best = Math.min(best, performance.now() - t0);
      n++;
    } while (performance.now() < end || n < 5);
    return best;
  } finally {
    useDeviceContext(null);
    nullCtx.destroy();
  }
}

/** Dispatches per submit of the bench's auto-flushed training step. */
const AUTO_FLUSH = 32;

let train: {
  preset: typeof tc; webgpu: number; webgpu_autoflush: number; autoflush_dispatches: number; ratio_autoflush: number; cpu: number; ratio: number; dispatches_per_step: number; step_ms: number; record_ms: number; record_us_per_dispatch: number;
  null_host_step_ms: number | null; cpu_step_ms: number; host_bound_ceiling: number | null;
} | null = null;
if (!args.includes('--no-train')) {
  useDeviceContext(ctx);
  const g = await trainTokensPerSecond('webgpu');
  const { recordMs, stepMs } = bestStepHost, dispatches = lastStepDispatches;
  // The same step submitted every AUTO_FLUSH dispatches (setAutoFlush): the GPU runs the step's
  // first part while the host records the rest.
  ctx.setAutoFlush(AUTO_FLUSH);
  const gAuto = await trainTokensPerSecond('webgpu');
  ctx.setAutoFlush(0);
  useDeviceContext(null);
  // Before the CPU backend's run: its worker threads would share this host's cores with the recording.
  const hostMs = await nullHostStepMs();
  const c = await trainTokensPerSecond('cpu');
  const cpuStepMs = ((tc.batch * tc.seq) / c) * 1000;
  train = {
    preset: tc, webgpu: +g.toFixed(1), webgpu_autoflush: +gAuto.toFixed(1), autoflush_dispatches: AUTO_FLUSH, ratio_autoflush: +(gAuto / g).toFixed(3), cpu: +c.toFixed(1), ratio: +(g / c).toFixed(3),
    dispatches_per_step: dispatches, step_ms: +stepMs.toFixed(2), record_ms: +recordMs.toFixed(2), record_us_per_dispatch: +((recordMs * 1000) / dispatches).toFixed(1),
    null_host_step_ms: hostMs === null ? null : +hostMs.toFixed(2), cpu_step_ms: +cpuStepMs.toFixed(2), host_bound_ceiling: hostMs === null ? null : +(cpuStepMs / hostMs).toFixed(2),
  };
  console.log(`\ntraining, dense preset depth ${tc.depth}, vocab ${tc.vocab}, B ${tc.batch} × T ${tc.seq}${a.software ? ' (SOFTWARE adapter)' : ''}:`);
  console.log(`  webgpu ${g.toFixed(1)} tokens/s   cpu (${availableBackends()[0].describe()}) ${c.toFixed(1)} tokens/s   ratio ${(g / c).toFixed(3)}`);
  console.log(`  submitted every ${AUTO_FLUSH} dispatches: webgpu ${gAuto.toFixed(1)} tokens/s (${(gAuto / g).toFixed(3)}× the one-submit step)`);
  console.log(`  device step ${stepMs.toFixed(2)} ms, of which ${recordMs.toFixed(2)} ms recording its ${dispatches} dispatches on the host (${((recordMs * 1000) / dispatches).toFixed(1)} µs each, the autograd's work included) before the submit`);
  if (hostMs !== null) console.log(`  the host alone (Dawn's null backend: recorded and submitted, nothing executed) ${hostMs.toFixed(2)} ms a step, the CPU backend's step ${cpuStepMs.toFixed(2)} ms: no GPU can beat the CPU by more than ${(cpuStepMs / hostMs).toFixed(1)}× here`);
}

let trainMoe: {
  preset: typeof tc; experts: number; webgpu_grouped: number; webgpu_per_expert: number; webgpu_dense: number; cpu: number; ratio: number;
  grouped_over_per_expert: number; grouped_over_dense: number; dispatches_per_step: { grouped: number; per_expert: number; dense: number };
} | null = null;
if (!args.includes('--no-moe')) {
  useDeviceContext(ctx);
  const modes = [['grouped', 0, 0], ['per-expert', 0, 0], ['dense', 0, 0]] as [MoeDispatch, number, number][];
  for (const m of modes) {
    setMoeDispatch(m[0]);
    m[1] = await trainTokensPerSecond('webgpu', 'moe');
    m[2] = lastStepDispatches;
  }
  setMoeDispatch('grouped');
  const [[, gr, dGr], [, pe, dPe], [, de, dDe]] = modes;
  useDeviceContext(null);
  const c = await trainTokensPerSecond('cpu', 'moe');
  trainMoe = {
    preset: tc, experts: moeExperts, webgpu_grouped: +gr.toFixed(1), webgpu_per_expert: +pe.toFixed(1), webgpu_dense: +de.toFixed(1), cpu: +c.toFixed(1), ratio: +(gr / c).toFixed(3),
    grouped_over_per_expert: +(gr / pe).toFixed(3), grouped_over_dense: +(gr / de).toFixed(3), dispatches_per_step: { grouped: dGr, per_expert: dPe, dense: dDe },
  };
  console.log(`\ntraining, MoE preset depth ${tc.depth} (${moeExperts} routed experts, 2 per token), vocab ${tc.vocab}, B ${tc.batch} × T ${tc.seq}${a.software ? ' (SOFTWARE adapter)' : ''}:`);
  console.log(`  webgpu grouped dispatch ${gr.toFixed(1)} tokens/s (${dGr} dispatches a step)   per expert ${pe.toFixed(1)} (${dPe})   dense ${de.toFixed(1)} (${dDe})`);
  console.log(`  grouped/per-expert ${(gr / pe).toFixed(3)}   grouped/dense ${(gr / de).toFixed(3)}`);
  console.log(`  cpu (${availableBackends()[0].describe()}) ${c.toFixed(1)} tokens/s   ratio webgpu grouped / cpu ${(gr / c).toFixed(3)}`);
}

/** Decode tokens/s of the engine: `batch` greedy sequences of dc.tokens tokens each (prefill included), best of 2 after a warm-up. */
async function decodeTokensPerSecond(device: 'webgpu' | 'webgpu-f16' | 'webgpu-readback' | 'cpu', topLogprobs?: number, batch = dc.batch): Promise<number> {
  const model = buildModel(densePreset(tc.depth, tc.vocab, Math.max(tc.seq, 8 + dc.tokens)), new Rng(0));
  const tensors = model.namedTensors().map(([, t]) => t);
  const placement = device === 'cpu' ? null : await placeOnDevice('bench', tensors, { half: device === 'webgpu-f16' ? linearWeights(model) : [] });
  if (placement && !placement.onDevice) throw new Error('bench:webgpu: the device did not open');
  const engine = new Engine(model, { maxBatch: batch, sampleOnDevice: device !== 'webgpu-readback' });
  const reqs = () => Array.from({ length: batch }, (_, i) => ({ prompt: Array.from({ length: 8 }, (_, j) => (i * 31 + j * 7) % tc.vocab), maxTokens: dc.tokens, sampling: { temperature: 0 }, ...(topLogprobs !== undefined ? { topLogprobs } : {}) }));
  await engine.generate(reqs()); // warm-up
  let best = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    const out = await engine.generate(reqs());
    const n = out.reduce((s, r) => s + r.tokens.length, 0);
    best = Math.min(best, (performance.now() - t0) / 1000 / n);
  }
  engine.dispose();
  await placement?.release();
  return 1 / best;
}

let decode: {
  batch: number; tokens: number; webgpu: number; webgpu_f16: number; webgpu_logits_readback: number; webgpu_top_logprobs: number; webgpu_top_logprobs_readback: number; gemv_batch: number; webgpu_gemv: number; webgpu_no_gemv: number; cpu: number;
  ratio: number; ratio_f16: number; ratio_device_sampling: number; ratio_device_top_logprobs: number; ratio_gemv: number;
} | null = null;
if (!args.includes('--no-decode')) {
  useDeviceContext(ctx);
  const g = await decodeTokensPerSecond('webgpu');
  const h = await decodeTokensPerSecond('webgpu-f16');
  const rb = await decodeTokensPerSecond('webgpu-readback');
  // With 5 top logprobs per token (OpenAI's top_logprobs): computed on the device, or from the logits rows read back.
  const tl = await decodeTokensPerSecond('webgpu', 5);
  const tlRb = await decodeTokensPerSecond('webgpu-readback', 5);
  // At most GEMV_MAX_ROWS sequences (the skinny kernel's limit): with it, then every decode product on the tile.
  const gb = Math.min(dc.batch, GEMV_MAX_ROWS);
  const gv = gb === dc.batch ? g : await decodeTokensPerSecond('webgpu', undefined, gb);
  setGemv(false);
  const ng = await decodeTokensPerSecond('webgpu', undefined, gb);
  setGemv(true);
  useDeviceContext(null);
  const c = await decodeTokensPerSecond('cpu');
  decode = {
    ...dc, webgpu: +g.toFixed(1), webgpu_f16: +h.toFixed(1), webgpu_logits_readback: +rb.toFixed(1), webgpu_top_logprobs: +tl.toFixed(1), webgpu_top_logprobs_readback: +tlRb.toFixed(1), gemv_batch: gb, webgpu_gemv: +gv.toFixed(1), webgpu_no_gemv: +ng.toFixed(1), cpu: +c.toFixed(1),
    ratio: +(g / c).toFixed(3), ratio_f16: +(h / g).toFixed(3), ratio_device_sampling: +(g / rb).toFixed(3), ratio_device_top_logprobs: +(tl / tlRb).toFixed(3), ratio_gemv: +(gv / ng).toFixed(3),
  };
  console.log(`\ndecode (engine, greedy), dense preset depth ${tc.depth}, vocab ${tc.vocab}, ${dc.batch} sequences × ${dc.tokens} tokens${a.software ? ' (SOFTWARE adapter)' : ''}:`);
  console.log(`  webgpu ${g.toFixed(1)} tokens/s   cpu (fast host decode) ${c.toFixed(1)} tokens/s   ratio ${(g / c).toFixed(3)}`);
  console.log(`  webgpu with f16 weights ${h.toFixed(1)} tokens/s   ratio to f32 weights ${(h / g).toFixed(3)}`);
  console.log(`  webgpu sampling on the host (logits rows read back) ${rb.toFixed(1)} tokens/s   device sampling / that ${(g / rb).toFixed(3)}`);
  console.log(`  with 5 top logprobs: on the device ${tl.toFixed(1)} tokens/s   from the logits rows read back ${tlRb.toFixed(1)} tokens/s   ratio ${(tl / tlRb).toFixed(3)}`);
  console.log(`  ${gb} sequences: skinny GEMM ${gv.toFixed(1)} tokens/s   every decode product on the 64×64 tile ${ng.toFixed(1)} tokens/s   ratio ${(gv / ng).toFixed(3)}`);
}
let nucleus: { vocab: number; batch: number; top_p: number; webgpu_ms: number; readback_host_ms: number; ratio: number } | null = null;
if (!args.includes('--no-nucleus')) {
  const { vocab: V, batch: B } = nc, topP = 0.95;
  const r = new Rng(3);
  const x = Float32Array.from({ length: B * V }, () => r.normal() * 0.5); // [B, V]
  const prm = new Float32Array(B * SAMPLE_PARAMS); // [B, 6]
  for (let i = 0; i < B; i++) prm.set([SAMPLE_SORTED, 1, 0, topP, 0, r.uniform()], i * SAMPLE_PARAMS);
  const gx = ctx.upload(x), gp = ctx.upload(prm), out = ctx.alloc([B, 2]);
  const best = async (f: () => Promise<unknown>) => {
    await f(); // warm-up (pipeline compile)
    let ms = Infinity;
    for (let rep = 0; rep < 3; rep++) { const t0 = performance.now(); await f(); ms = Math.min(ms, performance.now() - t0); }
    return ms;
  };
  const dev = await best(async () => { sampleRows(ctx, gx, gp, out, B, V); await ctx.read(out); });
  const host = await best(async () => {
    const rows = (await ctx.read(gx)) as Float32Array;
    for (let i = 0; i < B; i++) sampleToken(rows, i * V, V, { temperature: 1, topP }, { uniform: () => prm[i * SAMPLE_PARAMS + 5] });
  });
  for (const t of [gx, gp, out]) ctx.release(t);
  nucleus = { vocab: V, batch: B, top_p: topP, webgpu_ms: +dev.toFixed(2), readback_host_ms: +host.toFixed(2), ratio: +(host / dev).toFixed(3) };
  console.log(`\nnucleus sampling (T = 1, top-p ${topP}) of ${B} flat rows of a ${V}-token vocabulary${a.software ? ' (SOFTWARE adapter)' : ''}:`);
  console.log(`  webgpu sampleRows ${dev.toFixed(2)} ms   rows read back + host sampler ${host.toFixed(2)} ms   speed-up ${(host / dev).toFixed(3)}`);
}
ctx.destroy();
if (json) {
  console.log(JSON.stringify({
    bench: 'webgpu', adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, backend: a.backend, featureLevel: a.featureLevel, subgroups: a.subgroups },
    software: a.software, peak_gflops: peak, gemm_tile: gemmTile(), f16B: f16B ? 'shader-f16' : 'packed', native: native ? native.describe() : null, gemm: rows, attention: attentionFigs, train, train_moe: trainMoe, decode, nucleus,
  }));
}
