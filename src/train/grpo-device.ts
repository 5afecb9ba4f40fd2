// GRPO with the policy on the WebGPU device: the dashboard's "train in this tab" step (and
// usable from Node on Dawn). Rollouts are GrpoTrainer.rollout itself (the generation engine,
// the seeds, the task's grader, the overlong penalty) on the host: generation has no device
// path yet (no KV-cache kernels), so before the rollouts the policy's parameters are read back
// into host storage (one readback), the engine samples from them, and they are uploaded again
// for the training forward/backward, global-norm clipping and AdamW, which run on the device
// (the AdamW moments stay there). With `device: 'cpu'` the same step runs on the host: the
// reference the tests compare the device with.
// The objective is grpo-loss.ts's (the caller's GrpoOptions: aggregation, clip range,
// scaleStd, overlong filter/buffer, μ). Narrower than GrpoTrainer.step, each refused with an
// error naming the option: no dynamic sampling (one rollout round), no KL term (β = 0, so no
// reference model), no MoE router update. Rows are padded per micro-batch (sorted by length,
// cut at microBatchPositions) rather than prefix-packed: the same loss, more positions.
// Not here: the full trainer (grpo.ts), the loss (grpo-loss.ts), the page (web/src/tab).

import { R1tsError } from '../core/errors.ts';
import type { Engine } from '../engine/generate.ts';
import type { CausalLM } from '../models/model.ts';
import { AdamW } from '../optim/adamw.ts';
import { clipGradNormTensor } from '../optim/clip.ts';
import type { Grade, Task, TaskItem } from '../tasks/task.ts';
import * as T from '../tensor/index.ts';
import type { TextTokenizer } from '../tokenizer/types.ts';
import { GrpoTrainer, type GrpoOptions, type Rollout } from './grpo.ts';
import { groupAdvantages, grpoLoss } from './grpo-loss.ts';

export interface DeviceGrpoContext {
  /** The policy; with device 'webgpu' its parameters move to the open device (openDevice() first). */
  model: CausalLM;
  /** The engine the rollouts run on: it must hold `model` (its host storage is restored around each rollout). */
  engine: Engine;
  tokenizer: TextTokenizer;
  task: Task;
  encodePrompt: (item: TaskItem) => number[];
  stopTokens: number[];
  stopStrings: string[];
  reward?: (g: Grade) => number;
}

export interface DeviceGrpoMetrics {
  step: number;
  reward: number;
  accuracy: number;
  format: number;
  completion_tokens: number;
  truncated: number;
  zero_variance_groups: number;
  /** −J summed over the micro-batches of the (first) optimizer step. */
  loss: number;
  grad_norm: number;
  clip_fraction: number;
  ratio: number;
  lr: number;
  micro_batches: number;
  train_positions: number;
  rollout_seconds: number;
  train_seconds: number;
  /** Of train_seconds: the forward passes up to the log-probs' readback (the first optimizer step). */
  forward_seconds: number;
  step_seconds: number;
}

/** One GRPO step at a time with the policy's training on `device` and its rollouts on the host. */
export class DeviceGrpo {
  readonly opt: AdamW;
  /** The rollout half: GrpoTrainer.rollout with its rng and step counter (its own optimizer is never stepped). */
  private readonly sampler: GrpoTrainer;
  private readonly params: T.Tensor[];

  constructor(readonly ctx: DeviceGrpoContext, readonly o: GrpoOptions, readonly device: 'cpu' | 'webgpu') {
    if (o.dynamicSampling) throw new R1tsError('in-tab GRPO: dynamicSampling is not supported (one rollout round per step); set it to false');
    if (o.beta !== 0) throw new R1tsError(`in-tab GRPO: beta=${o.beta}: the KL term is not supported (no reference model); set beta to 0`);
    if (o.groupSize * o.promptsPerStep > ctx.engine.maxBatch) throw new R1tsError(`in-tab GRPO: ${o.promptsPerStep} prompts × ${o.groupSize} completions exceed the engine's maxBatch ${ctx.engine.maxBatch}`);
    if (ctx.engine.model !== ctx.model) throw new R1tsError('in-tab GRPO: the engine must hold the policy model (its rollouts sample from the policy)');
    this.sampler = new GrpoTrainer({ ...ctx, reference: null }, o);
    this.params = ctx.model.parameters();
    if (device === 'webgpu') T.moveToDevice(this.params);
    // the moments live where the parameters are (device zeros on webgpu)
    this.opt = new AdamW(this.params, { lr: o.lr, weightDecay: o.weightDecay, beta1: 0.9, beta2: 0.99 });
  }

  get stepCount(): number {
    return this.sampler.stepCount;
  }

  /** The policy's parameters back in host storage (device buffers freed): call when done, before saving or sampling. */
  async finish(): Promise<void> {
    if (this.device === 'webgpu') {
      await T.moveToHost(this.params);
      T.releaseDevice(this.opt.stateTensors());
      T.endDeviceStep();
    }
  }

  /** Rollouts on the host copy, then μ optimizer steps on the device; returns the step's figures and rollouts. */
  async step(): Promise<{ metrics: DeviceGrpoMetrics; rollouts: Rollout[] }> {
    const o = this.o;
    const G = o.groupSize;
    const t0 = performance.now();
    if (this.device === 'webgpu') await T.moveToHost(this.params); // one readback: the engine samples on the host
    const items = Array.from({ length: o.promptsPerStep }, () => this.ctx.task.trainItem(this.sampler.rng));
    const rs = await this.sampler.rollout(items, 0);
    if (this.device === 'webgpu') T.moveToDevice(this.params);
    const tGen = performance.now();

    const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
    let zeroVar = 0;
    for (let g = 0; g < rs.length; g += G) if (rs.slice(g, g + G).every((r) => r.reward === rs[g].reward)) zeroVar++;
    const train = await this.trainOn(rs);
    this.sampler.stepCount++;
    const t1 = performance.now();
    const metrics: DeviceGrpoMetrics = {
      step: this.sampler.stepCount,
      reward: mean(rs.map((r) => r.reward)),
      accuracy: mean(rs.map((r) => (r.grade.correct ? 1 : 0))),
      format: mean(rs.map((r) => (r.grade.format ? 1 : 0))),
      completion_tokens: mean(rs.map((r) => r.result.tokens.length)),
      truncated: mean(rs.map((r) => (r.truncated ? 1 : 0))),
      zero_variance_groups: zeroVar / (rs.length / G),
      ...train,
      rollout_seconds: (tGen - t0) / 1000,
      train_seconds: (t1 - tGen) / 1000,
      step_seconds: (t1 - t0) / 1000,
    };
    return { metrics, rollouts: rs };
  }

  /** μ optimizer steps on the rollouts (every group, even one of equal rewards: its advantages are 0). */
  private async trainOn(rs: Rollout[]): Promise<Pick<DeviceGrpoMetrics, 'loss' | 'grad_norm' | 'clip_fraction' | 'ratio' | 'lr' | 'micro_batches' | 'train_positions' | 'forward_seconds'>> {
    const o = this.o;
    const N = rs.length;
    const advantages = groupAdvantages(rs.map((r) => r.reward), o.groupSize, o.scaleStd);
    const lossTokens = rs.map((r) => (o.overlongFilter && r.truncated ? 0 : r.result.tokens.length));
    const total = lossTokens.reduce((s, x) => s + x, 0);
    // the weights of GrpoTrainer.trainOn, over the whole batch, so micro-batch losses sum to the batch's
    const rowWeight = lossTokens.map((m) => (m === 0 ? 0 : o.aggregation === 'sequence' ? 1 / (N * m) : o.aggregation === 'token' ? 1 / total : 1 / (N * o.maxTokens)));
    const batches = paddedBatches(rs, lossTokens, rowWeight, advantages, o.microBatchPositions);
    const out = { loss: 0, grad_norm: 0, clip_fraction: 0, ratio: 0, lr: 0, micro_batches: batches.length, train_positions: batches.reduce((s, b) => s + b.ids.length, 0), forward_seconds: 0 };
    for (let it = 0; it < o.mu; it++) {
      const lr = o.lr * Math.min(1, (this.sampler.stepCount + 1) / Math.max(1, o.warmupSteps));
      this.opt.lr = lr;
      this.opt.zeroGrad();
      const losses: T.Tensor[] = [];
      let tokens = 0, clip = 0, ratio = 0;
      for (const b of batches) {
        const idsT = T.ids(b.ids, [b.n, b.L]);
        const targetsT = T.ids(b.targets, [b.n, b.L]);
        const tf = performance.now();
        const { logits: raw } = this.ctx.model.forward(idsT); // [n, L, V]
        const logits = o.temperature === 1 ? raw : T.mul(raw, 1 / o.temperature); // [n, L, V]
        const logp = T.neg(T.crossEntropyRows(logits, targetsT)); // [n, L], 0 off the completions
        // the clip decisions need logp's values: one readback on the device, then the loss is recorded there
        const values = (await logp.read()) as Float32Array;
        if (it === 0) out.forward_seconds += (performance.now() - tf) / 1000;
        const r = grpoLoss(logp, { N: b.n, T: b.L, mask: b.mask, oldLogp: b.oldLogp, refLogp: null, advantages: b.advantages, weights: b.weights }, {
          epsLow: o.epsLow, epsHigh: o.epsHigh, beta: 0, aggregation: o.aggregation, maxTokens: o.maxTokens,
        }, values);
        r.loss.backward();
        losses.push(r.loss);
        tokens += r.stats.tokens;
        clip += r.stats.clipFrac * r.stats.tokens;
        ratio += r.stats.ratio * r.stats.tokens;
      }
      const norm = clipGradNormTensor(this.params, o.gradClip); // []
      this.opt.step();
      const vals = await T.readValues([...losses, norm]);
      if (this.device === 'webgpu') T.endDeviceStep();
      if (it === 0) {
        out.loss = vals.slice(0, losses.length).reduce((s, v) => s + v[0], 0);
        out.grad_norm = vals[losses.length][0];
        out.clip_fraction = tokens ? clip / tokens : 0;
        out.ratio = tokens ? ratio / tokens : 1;
        out.lr = lr;
      }
    }
    return out;
  }
}

/** One padded micro-batch: n rows of L positions; per position the target and the loss inputs. */
interface PaddedBatch {
  n: number;
  L: number;
  ids: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
  oldLogp: Float32Array;
  weights: Float32Array;
  advantages: Float32Array;
}

/**
 * Rows sorted by length and cut into micro-batches of at most `maxPositions` padded positions
 * (as GrpoTrainer's sharePrefix=false path). A row is prompt + completion without its last
 * token; position prompt.length − 1 + j predicts completion token j.
 */
export function paddedBatches(rs: Rollout[], lossTokens: number[], rowWeight: number[], advantages: Float32Array, maxPositions: number): PaddedBatch[] {
  const positions = rs.map((r) => r.prompt.length + r.result.tokens.length - 1);
  const order = rs.map((_, i) => i).filter((i) => lossTokens[i] > 0).sort((a, b) => positions[a] - positions[b]);
  const chunks: number[][] = [];
  for (let k = 0; k < order.length; ) {
    const chunk: number[] = [];
    while (k < order.length && ((chunk.length + 1) * positions[order[k]] <= maxPositions || chunk.length === 0)) chunk.push(order[k++]);
    chunks.push(chunk);
  }
  return chunks.map((rows) => {
    const n = rows.length;
    const L = Math.max(...rows.map((i) => positions[i]));
    const b: PaddedBatch = {
      n, L, ids: new Int32Array(n * L), targets: new Int32Array(n * L).fill(-100), mask: new Float32Array(n * L),
      oldLogp: new Float32Array(n * L), weights: new Float32Array(n * L), advantages: Float32Array.from(rows.map((i) => advantages[i])),
    };
    rows.forEach((i, row) => {
      const r = rs[i];
      const seq = [...r.prompt, ...r.result.tokens];
      for (let p = 0; p < positions[i]; p++) b.ids[row * L + p] = seq[p];
      const at = row * L + r.prompt.length - 1;
      r.result.tokens.forEach((tok, j) => {
        b.targets[at + j] = tok;
        b.oldLogp[at + j] = r.result.logprobs[j];
        b.mask[at + j] = 1;
        b.weights[at + j] = rowWeight[i];
      });
    });
    return b;
  });
}
