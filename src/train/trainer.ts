// The language-model training loop shared by pretraining and SFT: gradient
// accumulation over micro-batches (each loss scaled by 1/gradAccum), global
// gradient-norm clipping, AdamW with a warmup + cosine/constant schedule, the
// DeepSeek-V3 auxiliary-loss-free router-bias update after each step (its MTP
// and balance losses are already inside model.loss), periodic held-out
// evaluation, metrics.jsonl and a progress bar, and checkpoints every N steps,
// at the end, and on SIGINT/SIGTERM (the current step finishes, a checkpoint is
// saved, then trainLM returns with stopped: true; a second signal exits at once).
// A checkpoint holds the model (MoE biases included), AdamW moments, the RNG and
// the data position, so `resume` continues bit-exactly where the run stopped.
// MFU = model FLOPs / (step time · peak), model FLOPs ≈ (6·N_active + 6·L·H·(Dqk+Dv)·T)
// per token (PaLM appendix B: weights, plus the attention scores and values);
// N_active excludes the unrouted experts and an untied input embedding. The
// peak is this machine's measured f32 FMA peak: independent vector FMA chains
// on all the backend's threads for ~0.2 s of CPU time each (Backend.fmaPeak,
// native/kernels/peak.cc), once per process — not a datasheet figure, and no
// longer our own 1024³ GEMM's rate, which an earlier version used. Evidence for
// the switch (bench:train prints both; docs/benchmarks.md "Training"): on this
// Zen 5 (2 threads, AVX-512) the FMA probe reads ~440 GFLOP/s (220 per core =
// 2 pipes × 16 lanes × 2 × ~3.4 GHz) while the GEMM sustains ~275, so MFU
// against the GEMM flattered us 1.6× and could never show what the GEMM itself
// leaves on the table; the issue's own figures (PyTorch 6.9k tok/s = 41% of a
// ~16.9k tok/s peak, ~31 MFLOP/token) put the peak at ~530 GFLOP/s, i.e. the
// FMA figure; and the GEMM probe times wall clock, so on a shared machine it
// read 13–46 GFLOP/s (MFU over 100%), where the CPU-time FMA probe stays
// within ~20%. The reference backend cannot measure a vector peak; there the
// GEMM probe stands in.
// device 'webgpu' (issue #12): the model's tensors and AdamW's moments move to the
// WebGPU device after any resume; a step records forward, backward, clipping (the
// norm and the rescale stay on the device) and AdamW, then reads the losses and the
// norm back in one readback (one submit) and frees the step's buffers; so the
// non-finite-loss check runs after that step's update (the run stops either way).
// Evaluation reads one loss per batch; checkpoints move the tensors to the host and
// back; at the end they stay on the host (the model is usable by the caller) and the
// device is closed. No adapter: a message on stderr and the run continues on the
// CPU backend. MFU is not reported on the device (its peak is not measured).
// Not here: data (src/data), presets and tokenizers (pretrain.ts, sft.ts).

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { Batcher } from '../data/batcher.ts';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.ts';
import { saveHfModel } from '../io/hf.ts';
import { isDeepseekV3 } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { AdamW } from '../optim/adamw.ts';
import { clipGradNorm, clipGradNormTensor, gradNorm, gradNormTensor } from '../optim/clip.ts';
import { currentBackend, endDeviceStep, ids, matmul, moveToDevice, moveToHost, noGrad, placeOnDevice, randn, readValues, type Tensor } from '../tensor/index.ts';
import { saveTokenizerFiles, type BpeTokenizer } from '../tokenizer/index.ts';
import { balanceRouter, balanceRouterOnDevice, routerOf, type ExpertLoadFigures } from './expert-load.ts';
import { Progress, type ProgressStream } from './progress.ts';
import { RunLog, type MetricsRecord } from './run-log.ts';
import { lrAt } from './schedule.ts';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

/** The numeric/flag part of TrainOptions, validated once by trainLM. */
export const TrainConfigSchema = z.object({
  /** Total optimizer steps of the run (a resumed run continues up to this). */
  steps: posInt,
  /** Peak learning rate. */
  lr: z.number().positive().default(1e-3),
  /** The cosine ends at lr·minLrRatio. */
  minLrRatio: z.number().min(0).max(1).default(0.1),
  /** Linear warmup steps. */
  warmupSteps: nonNegInt.default(0),
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  /** AdamW decoupled weight decay. */
  weightDecay: z.number().nonnegative().default(0.1),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.95),
  /** Clip the global gradient norm to this (0 = no clipping; the norm is still logged). */
  gradClip: z.number().nonnegative().default(1),
  /** Micro-batches per optimizer step. */
  gradAccum: posInt.default(1),
  /** Evaluate on the eval batcher every N steps and at the last step (0: only at the last step). */
  evalEvery: nonNegInt.default(0),
  /** Batches per evaluation (the same batches every time). */
  evalBatches: posInt.default(4),
  /** Checkpoint every N steps (0: only at the end and when stopped); always at the end. */
  checkpointEvery: nonNegInt.default(0),
  /** Newest checkpoints kept. */
  keepCheckpoints: posInt.default(2),
  /** Run directory: metrics.jsonl, samples.jsonl, checkpoints/, model/. */
  outDir: z.string().min(1),
  /** Continue from outDir/checkpoints/latest (starts fresh when there is none). */
  resume: z.boolean().default(false),
  /** Seed of the loop's RNG (saved in checkpoints; data order is the batchers' own seed). */
  seed: z.number().int().default(0),
  /** Show a progress bar / lines on stderr. */
  progress: z.boolean().default(true),
  /** Label of the progress bar. */
  label: z.string().default('train'),
  /** Peak FLOP/s for MFU; default: measured once per process by a GEMM probe. */
  peakFlops: z.number().positive().optional(),
  /** Install SIGINT/SIGTERM handlers for the duration of the run. */
  handleSignals: z.boolean().default(true),
  /** Where the step runs: the CPU backend, or the WebGPU device (falls back to the CPU with a message when there is no adapter). */
  device: z.enum(['cpu', 'webgpu']).default('cpu'),
}).strict();

export type TrainConfig = z.input<typeof TrainConfigSchema>;

export interface TrainOptions extends TrainConfig {
  model: CausalLM;
  train: Batcher;
  eval?: Batcher;
  /** Written into outDir/model/ beside the weights (tokenizer.json, tokenizer_config.json). */
  tokenizer?: BpeTokenizer;
  /** Chat template stored in tokenizer_config.json. */
  chatTemplate?: string;
  /** Called after each step with its metrics line. */
  onStep?: (m: MetricsRecord) => void;
  /** Aborting stops the run like SIGINT: after the current step, with a checkpoint. */
  signal?: AbortSignal;
  /** Where the progress goes (default stderr). */
  progressStream?: ProgressStream;
}

export interface TrainResult {
  /** Step reached (the last completed step). */
  step: number;
  /** Step the run started from (0, or the resumed checkpoint's step). */
  startStep: number;
  /** True when a signal or abort stopped the run before `steps`. */
  stopped: boolean;
  /** Training loss (next-token cross-entropy) of each step run here, startStep+1 .. step. */
  losses: number[];
  /** Last evaluation's loss, or null. */
  evalLoss: number | null;
  /** Mean training throughput of this invocation (tokens/s). */
  tokensPerSecond: number;
  /** Newest checkpoint directory. */
  checkpoint: string | null;
  /** outDir/model when the run completed (a Hugging Face directory loadModel() reads), else null. */
  modelDir: string | null;
  metricsPath: string;
}

let cachedPeak: number | null = null;
let cachedGemm: number | null = null;

/** Sustained f32 GEMM FLOP/s of the current backend: 1024³ matmuls for about `seconds` (cached per process). */
export function measureGemmFlops(seconds = 0.3): number {
  if (cachedGemm !== null) return cachedGemm;
  const n = 1024, rng = new Rng(0);
  const a = randn([n, n], rng); // [n, n]
  const b = randn([n, n], rng); // [n, n]
  noGrad(() => {
    matmul(a, b); // warm-up
    let count = 0;
    const t0 = performance.now();
    let dt = 0;
    do {
      matmul(a, b); // [n, n]
      count++;
      dt = (performance.now() - t0) / 1000;
    } while (dt < seconds);
    cachedGemm = (count * 2 * n * n * n) / dt;
  });
  return cachedGemm!;
}

/**
 * The MFU denominator (cached per process): the machine's measured FMA peak on all the
 * backend's threads (Backend.fmaPeak, about `seconds`), or, where the backend cannot
 * measure one (the reference kernels), the GEMM probe's rate.
 */
export function measurePeakFlops(seconds = 0.2): number {
  if (cachedPeak !== null) return cachedPeak;
  cachedPeak = currentBackend().fmaPeak(seconds)?.flops ?? measureGemmFlops(seconds);
  return cachedPeak;
}

/** Training FLOPs per token at sequence length T (see the file header). */
export function flopsPerToken(model: CausalLM, T: number): number {
  const c = model.config;
  let n = model.numParameters();
  const embed = (model as unknown as { embed?: { weight?: Tensor } }).embed?.weight;
  if (embed && !c.tie_word_embeddings) n -= embed.size;
  const router = routerOf(model);
  if (router) for (const m of router.moeLayers()) n -= (m.experts.length - m.cfg.topK) * m.experts[0].numParameters();
  const L = c.num_hidden_layers;
  let attn: number;
  if (isDeepseekV3(c)) attn = c.num_attention_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim);
  else attn = 2 * (c.head_dim ?? c.hidden_size / c.num_attention_heads) * c.num_attention_heads;
  return 6 * n + 6 * L * attn * T;
}

/** Trains `model` on `train` for `steps` optimizer steps; see the file header. */
export async function trainLM(o: TrainOptions): Promise<TrainResult> {
  const { model, train, eval: evalData, tokenizer, chatTemplate, onStep, signal, progressStream, ...raw } = o;
  const parsed = TrainConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid training options:\n${parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  const cfg = parsed.data;
  const ckptRoot = join(cfg.outDir, 'checkpoints');
  const params = model.parameters();
  const opt = new AdamW(params, { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weightDecay });
  const rng = new Rng(cfg.seed);
  const router = routerOf(model);

  // Resume, or refuse to start a fresh run over another run's checkpoints.
  let start = 0;
  let checkpoint: string | null = null;
  const latest = existsSync(ckptRoot) ? latestCheckpoint(ckptRoot) : null;
  if (cfg.resume && latest) {
    const st = loadCheckpoint(latest, { model, optimizer: opt, rng });
    const pos = (st.dataPosition as { train?: unknown } | null)?.train;
    if (!pos) throw new R1tsError(`${latest}: the checkpoint has no training data position to resume from`);
    train.seek(pos as ReturnType<Batcher['position']>);
    start = st.step;
    checkpoint = latest;
  } else if (!cfg.resume && existsSync(ckptRoot) && readdirSync(ckptRoot).some((d) => d.startsWith('step-'))) {
    throw new R1tsError(`${cfg.outDir} already holds checkpoints of a run: pass resume to continue it, or choose another output directory`);
  }
  // The device: model tensors and optimizer moments move there (the same Tensor objects).
  const deviceTensors = [...new Set([...model.namedTensors().map(([, t]) => t), ...opt.stateTensors()])];
  const placement = cfg.device === 'webgpu' ? await placeOnDevice(cfg.label, deviceTensors) : null;
  let onDevice = placement?.onDevice ?? false;
  const log = new RunLog(cfg.outDir, { resumeStep: start });
  const evalStart = evalData?.position() ?? null;
  const peak = cfg.peakFlops ?? (onDevice ? NaN : measurePeakFlops());
  const perTokenCache = new Map<number, number>();
  const perToken = (T: number) => perTokenCache.get(T) ?? (perTokenCache.set(T, flopsPerToken(model, T)), perTokenCache.get(T)!);

  const evaluate = async (): Promise<number> => {
    model.eval();
    evalData!.seek(evalStart!);
    let s = 0;
    for (let i = 0; i < cfg.evalBatches; i++) {
      const b = evalData!.next();
      const main = noGrad(() => model.loss(ids(b.ids, [b.B, b.T]), ids(b.targets, [b.B, b.T])).main); // ids, targets: [B, T]
      if (onDevice) {
        s += await main.readItem();
        endDeviceStep();
      } else s += main.item();
    }
    model.train();
    return s / cfg.evalBatches;
  };
  const save = async (step: number): Promise<string> => {
    if (onDevice) await moveToHost(deviceTensors);
    checkpoint = saveCheckpoint(ckptRoot, {
      model, optimizer: opt, rng, step, dataPosition: { train: train.position() }, keep: cfg.keepCheckpoints,
      extra: { train: { ...cfg, outDir: undefined } },
    });
    if (onDevice) moveToDevice(deviceTensors);
    return checkpoint;
  };

  // Signals: finish the step, checkpoint, return; a second signal exits at once.
  let stopRequested = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write(`\n${cfg.label}: ${sig}: finishing this step and saving a checkpoint (again to quit now)\n`);
  };
  if (cfg.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const progress = cfg.progress ? new Progress({ total: cfg.steps, startStep: start, label: cfg.label, unit: 'step', stream: progressStream }) : null;

  const losses: number[] = [];
  let evalLoss: number | null = null;
  let step = start;
  let stopped = false;
  let tokensSeen = 0, secondsSpent = 0;
  model.train();
  try {
    while (step < cfg.steps) {
      if (stopRequested || signal?.aborted) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      const s = step + 1;
      opt.lr = lrAt(step, { lr: cfg.lr, warmupSteps: cfg.warmupSteps, totalSteps: cfg.steps, schedule: cfg.schedule, minLrRatio: cfg.minLrRatio });
      opt.zeroGrad();
      let lossSum = 0, mainSum = 0, tokens = 0, flops = 0;
      const deviceLosses: Tensor[] = [];
      for (let k = 0; k < cfg.gradAccum; k++) {
        const b = train.next();
        const x = ids(b.ids, [b.B, b.T]); // [B, T]
        const y = ids(b.targets, [b.B, b.T]); // [B, T]
        const { loss, main } = model.loss(x, y);
        (cfg.gradAccum > 1 ? loss.mul(1 / cfg.gradAccum) : loss).backward();
        if (onDevice) deviceLosses.push(loss, main);
        else {
          lossSum += loss.item();
          mainSum += main.item();
        }
        tokens += b.tokens;
        flops += perToken(b.T) * b.tokens;
      }
      let norm: number;
      let deviceFigures: ExpertLoadFigures | null = null;
      if (onDevice) {
        // One submit and one readback per step: the losses and the norm after AdamW is recorded.
        const normT = cfg.gradClip > 0 ? clipGradNormTensor(params, cfg.gradClip) : gradNormTensor(params); // []
        opt.step();
        // MoE: the router-bias update runs on the device too; its loads come back in the same readback.
        const got = router ? await balanceRouterOnDevice(router, [...deviceLosses, normT]) : null;
        deviceFigures = got?.figures ?? null;
        const vals = got ? got.values : await readValues([...deviceLosses, normT]);
        for (let i = 0; i < deviceLosses.length; i += 2) {
          lossSum += vals[i][0];
          mainSum += vals[i + 1][0];
        }
        norm = vals[vals.length - 1][0];
        endDeviceStep();
      }
      const loss = mainSum / cfg.gradAccum, total = lossSum / cfg.gradAccum;
      if (!Number.isFinite(total)) throw new R1tsError(`${cfg.label}: the loss is ${total} at step ${s}; lower the learning rate (now ${opt.lr}) or check the data`);
      if (!onDevice) {
        norm = cfg.gradClip > 0 ? clipGradNorm(params, cfg.gradClip) : gradNorm(params);
        opt.step();
      }
      // the router-bias update and this step's expert load (expert_load_max/min, expert_load: expert-load.ts)
      const figures: Record<string, number | number[][]> = router ? { ...(deviceFigures ?? balanceRouter(router)) } : {};
      const dt = (performance.now() - t0) / 1000;
      tokensSeen += tokens;
      secondsSpent += dt;
      step = s;
      losses.push(loss);
      const rec: Record<string, number | number[][]> = { loss, lr: opt.lr, grad_norm: norm!, tokens_per_s: tokens / dt, mfu: flops / dt / peak, tokens, step_s: dt };
      if (onDevice) delete rec.mfu;
      if (total !== loss) rec.total_loss = total;
      Object.assign(rec, figures);
      if (evalData && ((cfg.evalEvery > 0 && step % cfg.evalEvery === 0) || step === cfg.steps)) {
        evalLoss = await evaluate();
        rec.eval_loss = evalLoss;
      }
      const line = log.metrics(step, rec);
      if ((cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0) || step === cfg.steps) await save(step);
      progress?.update(step, { loss, lr: opt.lr, 'tok/s': Math.round(tokens / dt), ...(evalLoss !== null ? { eval: evalLoss } : {}) });
      onStep?.(line);
      // Let signal handlers and aborts run between steps.
      await new Promise<void>((r) => setImmediate(r));
    }
    if (stopped && step > start) await save(step);
    if (onDevice) await moveToHost(deviceTensors);
    onDevice = false;
  } finally {
    progress?.done();
    await placement?.release();
    if (cfg.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  let modelDir: string | null = null;
  if (!stopped) {
    if (step === start && !checkpoint) await save(step);
    modelDir = join(cfg.outDir, 'model');
    saveHfModel(model, modelDir);
    if (tokenizer) saveTokenizerFiles(modelDir, tokenizer, chatTemplate);
  }
  return { step, startStep: start, stopped, losses, evalLoss, tokensPerSecond: secondsSpent > 0 ? tokensSeen / secondsSpent : 0, checkpoint, modelDir, metricsPath: log.metricsPath };
}
